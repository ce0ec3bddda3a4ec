/// Why bytes are not valid (or not acceptable) bencode. Every case carries the byte offset in the
/// input where the problem was found.
public enum BencodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input ended in the middle of a value.
    case unexpectedEnd(offset: Int)
    /// A byte that cannot start or continue a value at this position.
    case unexpectedByte(UInt8, offset: Int)
    /// An integer that is empty, has a leading zero, is `-0` or contains a non-digit.
    case malformedInteger(offset: Int)
    /// An integer that does not fit in 64 bits.
    case integerOverflow(offset: Int)
    /// A string length prefix that is malformed (leading zero, no colon, non-digit).
    case malformedStringLength(offset: Int)
    /// A string whose declared length runs past the end of the input.
    case stringPastEnd(length: Int64, offset: Int)
    /// A dictionary key that is not a byte string.
    case nonStringKey(offset: Int)
    /// The same key appears twice in one dictionary.
    case duplicateKey(offset: Int)
    /// Lists and dictionaries nest deeper than the limit.
    case nestingTooDeep(limit: Int, offset: Int)
    /// The input is larger than the limit.
    case inputTooLarge(size: Int, limit: Int)
    /// The input holds more values than the limit.
    case tooManyElements(limit: Int, offset: Int)
    /// Bytes remain after the top-level value.
    case trailingData(offset: Int)

    /// The byte offset at which the problem was detected.
    public var offset: Int {
        switch self {
        case let .unexpectedEnd(offset), let .unexpectedByte(_, offset), let .malformedInteger(offset),
             let .integerOverflow(offset), let .malformedStringLength(offset),
             let .stringPastEnd(_, offset), let .nonStringKey(offset), let .duplicateKey(offset),
             let .nestingTooDeep(_, offset), let .tooManyElements(_, offset), let .trailingData(offset):
            offset
        case .inputTooLarge: 0
        }
    }

    public var description: String {
        switch self {
        case let .unexpectedEnd(offset): "bencode ends unexpectedly at byte \(offset)"
        case let .unexpectedByte(byte, offset): "unexpected byte 0x\(String(byte, radix: 16)) at byte \(offset)"
        case let .malformedInteger(offset): "malformed integer at byte \(offset)"
        case let .integerOverflow(offset): "integer out of 64-bit range at byte \(offset)"
        case let .malformedStringLength(offset): "malformed string length at byte \(offset)"
        case let .stringPastEnd(length, offset): "string of \(length) bytes at byte \(offset) runs past the end"
        case let .nonStringKey(offset): "dictionary key is not a string at byte \(offset)"
        case let .duplicateKey(offset): "duplicate dictionary key at byte \(offset)"
        case let .nestingTooDeep(limit, offset): "nesting deeper than \(limit) levels at byte \(offset)"
        case let .inputTooLarge(size, limit): "input of \(size) bytes exceeds the \(limit)-byte limit"
        case let .tooManyElements(limit, offset): "more than \(limit) values (at byte \(offset))"
        case let .trailingData(offset): "trailing data after the value at byte \(offset)"
        }
    }
}
