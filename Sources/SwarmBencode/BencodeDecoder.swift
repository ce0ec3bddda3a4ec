/// The result of decoding with position information.
public struct BencodeDocument: Sendable {
    /// The decoded value.
    public let value: BencodeValue
    /// Bytes consumed (the whole input for `decodeDocument`, a prefix for `decodePrefix`).
    public let consumed: Int
    /// The exact byte range of the value stored under the key `info` in the top-level dictionary,
    /// if there is one. The info-hash is SHA-1 of exactly these bytes.
    public let infoRange: Range<Int>?
}

/// A strict, bounded bencode decoder.
///
/// Strict where BEP 3 is strict: no leading zeros or `-0` in integers, no leading zeros in string
/// lengths, string keys only, no duplicate keys. Unsorted keys are accepted (real torrents have
/// them). Recursion is bounded by `BencodeLimits.maxDepth`, allocation by the input size and
/// `maxElementCount`.
public struct BencodeDecoder: Sendable {
    /// The limits this decoder enforces.
    public let limits: BencodeLimits

    /// Creates a decoder with the given limits.
    public init(limits: BencodeLimits = .default) {
        self.limits = limits
    }

    /// Decodes exactly one value spanning all of `bytes` with the default limits.
    public static func decode(_ bytes: [UInt8]) throws(BencodeError) -> BencodeValue {
        try BencodeDecoder().decodeDocument(bytes).value
    }

    /// Decodes exactly one value spanning all of `bytes`.
    public func decode(_ bytes: [UInt8]) throws(BencodeError) -> BencodeValue {
        try decodeDocument(bytes).value
    }

    /// Decodes exactly one value spanning all of `bytes`, reporting the top-level `info` range.
    public func decodeDocument(_ bytes: [UInt8]) throws(BencodeError) -> BencodeDocument {
        let document = try decodePrefix(bytes)
        if document.consumed != bytes.count {
            throw .trailingData(offset: document.consumed)
        }
        return document
    }

    /// Decodes one value at the start of `bytes` and reports how many bytes it used; the rest is
    /// left alone (BEP 9 `ut_metadata` messages append raw data after a dictionary).
    public func decodePrefix(_ bytes: [UInt8]) throws(BencodeError) -> BencodeDocument {
        guard bytes.count <= limits.maxInputSize else {
            throw .inputTooLarge(size: bytes.count, limit: limits.maxInputSize)
        }
        let result: Result<BencodeDocument, BencodeError> = bytes.withUnsafeBufferPointer { buffer in
            var parser = BencodeParser(input: buffer, limits: limits)
            do throws(BencodeError) {
                let value = try parser.parseValue(depth: 0)
                return .success(BencodeDocument(value: value, consumed: parser.position,
                                                infoRange: parser.infoRange))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// The recursive-descent parser behind `BencodeDecoder`.
struct BencodeParser: ~Copyable {
    let input: UnsafeBufferPointer<UInt8>
    let limits: BencodeLimits
    var position = 0
    var elementCount = 0
    var infoRange: Range<Int>?

    private static let infoKey: [UInt8] = Array("info".utf8)

    init(input: UnsafeBufferPointer<UInt8>, limits: BencodeLimits) {
        self.input = input
        self.limits = limits
    }

    mutating func parseValue(depth: Int) throws(BencodeError) -> BencodeValue {
        guard position < input.count else { throw .unexpectedEnd(offset: position) }
        elementCount += 1
        if elementCount > limits.maxElementCount {
            throw .tooManyElements(limit: limits.maxElementCount, offset: position)
        }
        let byte = input[position]
        switch byte {
        case UInt8(ascii: "i"):
            return .integer(try parseInteger())
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .bytes(try parseBytes())
        case UInt8(ascii: "l"):
            guard depth < limits.maxDepth else {
                throw .nestingTooDeep(limit: limits.maxDepth, offset: position)
            }
            return try parseList(depth: depth + 1)
        case UInt8(ascii: "d"):
            guard depth < limits.maxDepth else {
                throw .nestingTooDeep(limit: limits.maxDepth, offset: position)
            }
            return try parseDictionary(depth: depth + 1)
        default:
            throw .unexpectedByte(byte, offset: position)
        }
    }

    /// `i<digits>e`, position at `i`.
    private mutating func parseInteger() throws(BencodeError) -> Int64 {
        let start = position
        position += 1
        var negative = false
        if position < input.count, input[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        let digitsStart = position
        var magnitude: UInt64 = 0
        while position < input.count, input[position] != UInt8(ascii: "e") {
            let byte = input[position]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw .malformedInteger(offset: start)
            }
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            if overflow1 || overflow2 { throw .integerOverflow(offset: start) }
            magnitude = sum
            position += 1
        }
        guard position < input.count else { throw .unexpectedEnd(offset: position) }
        let digitCount = position - digitsStart
        guard digitCount > 0 else { throw .malformedInteger(offset: start) }
        // Leading zeros and "-0" are forbidden so every integer has exactly one encoding.
        if input[digitsStart] == UInt8(ascii: "0"), digitCount > 1 || negative {
            throw .malformedInteger(offset: start)
        }
        position += 1  // "e"
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw .integerOverflow(offset: start) }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw .integerOverflow(offset: start) }
        return Int64(magnitude)
    }

    /// `<length>:<bytes>`, position at the first digit.
    private mutating func parseBytes() throws(BencodeError) -> [UInt8] {
        let range = try parseBytesRange()
        return Array(input[range])
    }

    private mutating func parseBytesRange() throws(BencodeError) -> Range<Int> {
        let start = position
        var length: Int64 = 0
        while position < input.count, input[position] != UInt8(ascii: ":") {
            let byte = input[position]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw .malformedStringLength(offset: start)
            }
            // Any length above the input size is already wrong; stop before overflowing.
            length = length * 10 + Int64(byte - UInt8(ascii: "0"))
            if length > Int64(input.count) { throw .stringPastEnd(length: length, offset: start) }
            position += 1
        }
        guard position < input.count else { throw .unexpectedEnd(offset: position) }
        let digitCount = position - start
        if digitCount == 0 || (digitCount > 1 && input[start] == UInt8(ascii: "0")) {
            throw .malformedStringLength(offset: start)
        }
        position += 1  // ":"
        guard length <= Int64(input.count - position) else {
            throw .stringPastEnd(length: length, offset: start)
        }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    private mutating func parseList(depth: Int) throws(BencodeError) -> BencodeValue {
        position += 1
        var elements: [BencodeValue] = []
        while true {
            guard position < input.count else { throw .unexpectedEnd(offset: position) }
            if input[position] == UInt8(ascii: "e") {
                position += 1
                return .list(elements)
            }
            elements.append(try parseValue(depth: depth))
        }
    }

    private mutating func parseDictionary(depth: Int) throws(BencodeError) -> BencodeValue {
        position += 1
        var entries: [BencodeDictionaryEntry] = []
        var sorted = true
        while true {
            guard position < input.count else { throw .unexpectedEnd(offset: position) }
            let keyOffset = position
            let byte = input[position]
            if byte == UInt8(ascii: "e") {
                position += 1
                if !sorted { try Self.checkNoDuplicates(entries, offset: keyOffset) }
                return .dictionary(entries)
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw .nonStringKey(offset: position)
            }
            elementCount += 1
            if elementCount > limits.maxElementCount {
                throw .tooManyElements(limit: limits.maxElementCount, offset: position)
            }
            let key = Array(input[try parseBytesRange()])
            if let previous = entries.last?.key {
                // Fast path: canonical (strictly increasing) keys cannot repeat.
                if !previous.lexicographicallyPrecedes(key) {
                    if previous == key { throw .duplicateKey(offset: keyOffset) }
                    sorted = false
                }
            }
            let valueStart = position
            let value = try parseValue(depth: depth)
            if depth == 1, infoRange == nil, key == Self.infoKey {
                infoRange = valueStart..<position
            }
            entries.append(BencodeDictionaryEntry(key: key, value: value))
        }
    }

    private static func checkNoDuplicates(_ entries: [BencodeDictionaryEntry],
                                          offset: Int) throws(BencodeError) {
        var seen = Set<[UInt8]>(minimumCapacity: entries.count)
        for entry in entries where !seen.insert(entry.key).inserted {
            throw .duplicateKey(offset: offset)
        }
    }
}
