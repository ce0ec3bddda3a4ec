import Crypto

/// SHA-1 of pieces (BitTorrent v1), via swift-crypto (SHA-NI where the CPU has it).
public enum PieceHasher {
    /// The 20-byte SHA-1 digest of `bytes`.
    public static func sha1(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = Insecure.SHA1()
        hasher.update(bufferPointer: bytes)
        return Array(hasher.finalize())
    }

    /// Whether SHA-1 of `bytes` equals `expected`, without allocating.
    public static func verify(_ bytes: UnsafeRawBufferPointer, expected: ArraySlice<UInt8>) -> Bool {
        var hasher = Insecure.SHA1()
        hasher.update(bufferPointer: bytes)
        let digest = hasher.finalize()
        return digest.withUnsafeBytes { raw in
            raw.count == expected.count && raw.elementsEqual(expected)
        }
    }

    /// The SHA-1 of `count` zero bytes, hashed through one 64 KiB buffer.
    public static func sha1OfZeros(count: Int) -> [UInt8] {
        let zeros = [UInt8](repeating: 0, count: min(count, 64 * 1024))
        var hasher = Insecure.SHA1()
        var left = count
        while left > 0 {
            let step = min(left, zeros.count)
            zeros.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<step])) }
            left -= step
        }
        return Array(hasher.finalize())
    }
}
