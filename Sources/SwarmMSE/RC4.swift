/// The RC4 stream cipher, as MSE uses it: keyed with a 20-byte SHA-1 digest, the first 1024
/// bytes of keystream thrown away (`discard`), then XORed over the stream in place.
///
/// Invariant: `state` is always a permutation of 0...255 (`i`, `j` are indices into it). A value
/// type: copying it forks the keystream (the handshake uses a copy to compute what the peer's
/// first encrypted bytes must look like without consuming them).
public struct RC4: Sendable {
    private var state: [UInt8]
    private var i: UInt8 = 0
    private var j: UInt8 = 0

    /// A cipher keyed with `key` (1 to 256 bytes; MSE keys are 20).
    public init(key: some Collection<UInt8>) {
        let key = Array(key)
        precondition(!key.isEmpty && key.count <= 256, "RC4 key must be 1...256 bytes")
        var state = [UInt8](repeating: 0, count: 256)
        for index in 0..<256 { state[index] = UInt8(index) }
        var j: UInt8 = 0
        for index in 0..<256 {
            j = j &+ state[index] &+ key[index % key.count]
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
    public mutating func apply(to bytes: UnsafeMutableRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        var i = self.i
        var j = self.j
        state.withUnsafeMutableBufferPointer { s in
            for index in 0..<bytes.count {
                i &+= 1
                let si = s[Int(i)]
                j &+= si
                let sj = s[Int(j)]
                s[Int(i)] = sj
                s[Int(j)] = si
                bytes[index] ^= s[Int(si &+ sj)]
            }
        }
        self.i = i
        self.j = j
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
