/// The 20-byte id a peer announces in its handshake and to trackers.
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
    /// Always exactly 20 bytes.
    public let bytes: [UInt8]

    /// The number of bytes in a peer id.
    public static let length = 20

    /// Wraps `bytes`; nil unless there are exactly 20 of them.
    public init?(bytes: [UInt8]) {
        guard bytes.count == PeerID.length else { return nil }
        self.bytes = bytes
    }

    /// A fresh random peer id in the Azureus style: `prefix` (e.g. `-SF0100-`, naming the client and
    /// its version) followed by random alphanumerics. A prefix longer than 20 bytes is truncated.
    public static func generate(prefix: String = "-SF0100-") -> PeerID {
        var generator = SystemRandomNumberGenerator()
        return generate(prefix: prefix, using: &generator)
    }

    /// As `generate(prefix:)`, with an injectable random source (for reproducible tests).
    public static func generate<Generator: RandomNumberGenerator>(
        prefix: String, using generator: inout Generator
    ) -> PeerID {
        // Alphanumerics only: some trackers and clients print peer ids, and they stay readable.
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        var bytes = Array(prefix.utf8.prefix(length))
        while bytes.count < length {
            bytes.append(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)])
        }
        // Exactly 20 bytes by construction, so the failable init cannot fail.
        return PeerID(uncheckedBytes: bytes)
    }

    private init(uncheckedBytes: [UInt8]) {
        bytes = uncheckedBytes
    }

    /// The id with non-printable bytes escaped, for logs.
    public var description: String {
        var text = ""
        for byte in bytes {
            if byte >= 0x20 && byte < 0x7F {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                text += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return text
    }
}
