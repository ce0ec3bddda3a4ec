import Crypto

/// A v1 info-hash: SHA-1 of the bencoded info dictionary, exactly 20 bytes.
public struct InfoHash: Hashable, Sendable, CustomStringConvertible {
    /// The 20 raw bytes.
    public let bytes: [UInt8]

    /// Wraps `bytes`; nil unless there are exactly 20.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 20 else { return nil }
        self.bytes = Array(bytes)
    }

    /// Parses 40 hex digits in any case; nil for anything else.
    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 40 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(20)
        var index = 0
        while index < 40 {
            guard let high = Hex.nibble(utf8[index]), let low = Hex.nibble(utf8[index + 1]) else {
                return nil
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.bytes = bytes
    }

    /// SHA-1 of `data`: the info-hash of an info dictionary given its exact bytes.
    public static func sha1(of data: some Sequence<UInt8>) -> InfoHash {
        var hasher = Insecure.SHA1()
        hasher.update(data: Array(data))
        // SHA-1 always yields 20 bytes, so the failable init cannot fail here.
        return InfoHash(uncheckedBytes: Array(hasher.finalize()))
    }

    private init(uncheckedBytes: [UInt8]) {
        self.bytes = uncheckedBytes
    }

    /// 40 lowercase hex digits.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { hex }
}

/// Hex helpers shared by this module.
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var output = [UInt8]()
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: output, as: UTF8.self)
    }
}
