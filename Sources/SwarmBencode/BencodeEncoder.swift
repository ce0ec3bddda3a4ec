/// Writes canonical bencode: dictionary keys sorted by raw bytes, as BEP 3 requires.
public enum BencodeEncoder {
    /// The canonical encoding of `value`.
    public static func encode(_ value: BencodeValue) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(64)
        encode(value, into: &output)
        return output
    }

    /// Appends the canonical encoding of `value` to `output`.
    public static func encode(_ value: BencodeValue, into output: inout [UInt8]) {
        switch value {
        case let .integer(number):
            output.append(UInt8(ascii: "i"))
            output.append(contentsOf: String(number).utf8)
            output.append(UInt8(ascii: "e"))
        case let .bytes(bytes):
            appendBytes(bytes, into: &output)
        case let .list(elements):
            output.append(UInt8(ascii: "l"))
            for element in elements { encode(element, into: &output) }
            output.append(UInt8(ascii: "e"))
        case let .dictionary(entries):
            output.append(UInt8(ascii: "d"))
            let sorted = entries.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            for entry in sorted {
                appendBytes(entry.key, into: &output)
                encode(entry.value, into: &output)
            }
            output.append(UInt8(ascii: "e"))
        }
    }

    private static func appendBytes(_ bytes: [UInt8], into output: inout [UInt8]) {
        output.append(contentsOf: String(bytes.count).utf8)
        output.append(UInt8(ascii: ":"))
        output.append(contentsOf: bytes)
    }
}
