import SwarmBencode

/// Bencode: the decoder reports no more bytes consumed than it was given, and whatever it accepts
/// survives encode -> decode -> encode unchanged (the encoder's output is canonical).
enum BencodeFuzzCheck {
    // Small limits as the protocol parsers use them, so depth/element bounds are exercised too.
    private static let decoder = BencodeDecoder(limits: BencodeLimits(maxDepth: 16, maxInputSize: 1 << 20,
                                                                      maxElementCount: 10_000))

    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        guard let document = try? decoder.decodePrefix(input) else { return }
        try require(document.consumed > 0 && document.consumed <= input.count, .bencode,
                    "consumed \(document.consumed) of \(input.count) bytes")
        if let range = document.infoRange {
            try require(range.lowerBound >= 0 && range.upperBound <= document.consumed, .bencode,
                        "info range \(range) outside the \(document.consumed) consumed bytes")
        }
        let whole = try? decoder.decode(input)
        try require((whole != nil) == (document.consumed == input.count), .bencode,
                    "decode and decodePrefix disagree on a \(input.count)-byte input")

        let encoded = BencodeEncoder.encode(document.value)
        let redecoded: BencodeValue
        do {
            redecoded = try BencodeDecoder(limits: .default).decode(encoded)
        } catch {
            throw FuzzInvariantViolation(target: .bencode, detail: "re-decoding the encoder's output failed: \(error)")
        }
        try require(BencodeEncoder.encode(redecoded) == encoded, .bencode,
                    "encode(decode(encode(v))) != encode(v)")
        try require(sortedKeys(redecoded) == sortedKeys(document.value), .bencode,
                    "decode(encode(v)) differs from v beyond key order")
    }

    /// `value` with every dictionary's entries in key order, the order the encoder writes.
    private static func sortedKeys(_ value: BencodeValue) -> BencodeValue {
        switch value {
        case .integer, .bytes: return value
        case .list(let items): return .list(items.map(sortedKeys))
        case .dictionary(let entries):
            return .dictionary(entries.map { BencodeDictionaryEntry(key: $0.key, value: sortedKeys($0.value)) }
                .sorted { $0.key.lexicographicallyPrecedes($1.key) })
        }
    }
}
