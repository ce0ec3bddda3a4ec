/// The RC4 stream cipher, as MSE uses it: keyed with a 20-byte SHA-1 digest, the first 1024
/// bytes of keystream thrown away (`discard`), then XORed over the stream in place.
///
/// Invariant: `state` is always a permutation of 0...255 (`i`, `j` are indices into it). A value
/// type: copying it forks the keystream (the handshake uses a copy to compute what the peer's
/// first encrypted bytes must look like without consuming them).
public struct RC4: Sendable {
    /// The permutation, one byte value per 32-bit slot: with byte-wide slots the same loop ran
    /// at 440 MB/s here instead of 760 (a byte store and the next loads of its neighbours hold
    /// each other up).
    private var state: [UInt32]
    private var i: UInt32 = 0
    private var j: UInt32 = 0

    /// A cipher keyed with `key` (1 to 256 bytes; MSE keys are 20).
    public init(key: some Collection<UInt8>) {
        let key = Array(key)
        precondition(!key.isEmpty && key.count <= 256, "RC4 key must be 1...256 bytes")
        var state = [UInt32](repeating: 0, count: 256)
        for index in 0..<256 { state[index] = UInt32(index) }
        var j: UInt32 = 0
        for index in 0..<256 {
            j = (j &+ state[index] &+ UInt32(key[index % key.count])) & 0xFF
            state.swapAt(index, Int(j))
        }
        self.state = state
    }

    /// Advances the keystream by `count` bytes without using them.
    public mutating func discard(_ count: Int) {
        var scratch = [UInt8](repeating: 0, count: max(0, count))
        scratch.withUnsafeMutableBytes { apply(to: $0) }
    }

    /// XORs the next `bytes.count` bytes of keystream over `bytes` (encrypts and decrypts alike).
    ///
    /// Four keystream bytes go over the data as one 32-bit word: a byte-at-a-time XOR ran at
    /// 560 MB/s on one core here, words at 760 MB/s (OpenSSL's assembly: 940 MB/s), and the
    /// cipher is most of what an encrypted stream costs.
    public mutating func apply(to bytes: UnsafeMutableRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        let count = bytes.count
        var i = self.i
        var j = self.j
        state.withUnsafeMutableBufferPointer { buffer in
            // Non-nil: the array always holds 256 slots.
            let s = buffer.baseAddress!
            var index = 0
            while count - index >= 4 {
                var word = Self.next(s, &i, &j)
                word |= Self.next(s, &i, &j) << 8
                word |= Self.next(s, &i, &j) << 16
                word |= Self.next(s, &i, &j) << 24
                let at = base + index
                at.storeBytes(of: at.loadUnaligned(as: UInt32.self) ^ word.littleEndian, as: UInt32.self)
                index += 4
            }
            while index < count {
                let key = UInt8(truncatingIfNeeded: Self.next(s, &i, &j))
                let at = base + index
                at.storeBytes(of: at.load(as: UInt8.self) ^ key, as: UInt8.self)
                index += 1
            }
        }
        self.i = i
        self.j = j
    }

    /// One step of the generator: the next keystream byte (in the low 8 bits).
    @inline(__always)
    private static func next(_ s: UnsafeMutablePointer<UInt32>, _ i: inout UInt32, _ j: inout UInt32) -> UInt32 {
        i = (i &+ 1) & 0xFF
        let si = s[Int(i)]
        j = (j &+ si) & 0xFF
        let sj = s[Int(j)]
        s[Int(i)] = sj
        s[Int(j)] = si
        return s[Int((si &+ sj) & 0xFF)]
    }

    /// `apply(to:)` over an array.
    public mutating func apply(to bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { apply(to: $0) }
    }

    /// The next `count` bytes of keystream (what `count` zero bytes encrypt to).
    public mutating func keystream(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: max(0, count))
        apply(to: &bytes)
        return bytes
    }
}
