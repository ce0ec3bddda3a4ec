/// One bencoded value (BEP 3): an integer, a byte string, a list or a dictionary.
///
/// Dictionaries keep their entries in the order they appeared in the input, because real torrents
/// carry unsorted keys and the info-hash must be computed over the original bytes, not a
/// re-encoding. `BencodeEncoder` sorts keys when it writes.
public enum BencodeValue: Sendable, Hashable {
    /// A signed 64-bit integer (`i42e`).
    case integer(Int64)
    /// A byte string (`4:spam`); not necessarily UTF-8.
    case bytes([UInt8])
    /// A list (`l...e`).
    case list([BencodeValue])
    /// A dictionary (`d...e`), entries in input order.
    case dictionary([BencodeDictionaryEntry])
}

/// One key/value pair of a bencoded dictionary.
public struct BencodeDictionaryEntry: Sendable, Hashable {
    /// The raw key bytes.
    public var key: [UInt8]
    /// The value stored under `key`.
    public var value: BencodeValue

    /// Creates an entry from raw key bytes.
    public init(key: [UInt8], value: BencodeValue) {
        self.key = key
        self.value = value
    }

    /// Creates an entry from a UTF-8 key.
    public init(_ key: String, _ value: BencodeValue) {
        self.key = Array(key.utf8)
        self.value = value
    }

    /// The key decoded as UTF-8, or nil when it is not valid UTF-8.
    public var keyString: String? { String(validating: key, as: UTF8.self) }
}

extension BencodeValue {
    /// A byte string holding the UTF-8 bytes of `text`.
    public static func string(_ text: String) -> BencodeValue { .bytes(Array(text.utf8)) }

    /// A dictionary built from UTF-8 keys, in the given order.
    public static func dictionary(_ pairs: KeyValuePairs<String, BencodeValue>) -> BencodeValue {
        .dictionary(pairs.map { BencodeDictionaryEntry($0.key, $0.value) })
    }

    /// The integer, if this is one.
    public var integer: Int64? {
        if case let .integer(value) = self { return value }
        return nil
    }

    /// The raw bytes, if this is a byte string.
    public var bytes: [UInt8]? {
        if case let .bytes(value) = self { return value }
        return nil
    }

    /// The byte string decoded as strict UTF-8; nil if this is not a byte string or not valid UTF-8.
    public var string: String? {
        guard case let .bytes(value) = self else { return nil }
        return String(validating: value, as: UTF8.self)
    }

    /// The elements, if this is a list.
    public var list: [BencodeValue]? {
        if case let .list(value) = self { return value }
        return nil
    }

    /// The entries in input order, if this is a dictionary.
    public var dictionary: [BencodeDictionaryEntry]? {
        if case let .dictionary(value) = self { return value }
        return nil
    }

    /// The value stored under the UTF-8 `key` when this is a dictionary (first match); nil otherwise.
    public subscript(key: String) -> BencodeValue? {
        self[Array(key.utf8)]
    }

    /// The value stored under the raw `key` when this is a dictionary (first match); nil otherwise.
    public subscript(key: [UInt8]) -> BencodeValue? {
        guard case let .dictionary(entries) = self else { return nil }
        return entries.first(where: { $0.key == key })?.value
    }
}

extension BencodeValue: ExpressibleByIntegerLiteral {
    /// `let v: BencodeValue = 42`
    public init(integerLiteral value: Int64) { self = .integer(value) }
}

extension BencodeValue: ExpressibleByStringLiteral {
    /// `let v: BencodeValue = "spam"` (UTF-8 bytes).
    public init(stringLiteral value: String) { self = .bytes(Array(value.utf8)) }
}

extension BencodeValue: ExpressibleByArrayLiteral {
    /// `let v: BencodeValue = [1, "a"]`
    public init(arrayLiteral elements: BencodeValue...) { self = .list(elements) }
}

extension BencodeValue: ExpressibleByDictionaryLiteral {
    /// `let v: BencodeValue = ["port": 6881]` (entries kept in literal order).
    public init(dictionaryLiteral elements: (String, BencodeValue)...) {
        self = .dictionary(elements.map { BencodeDictionaryEntry($0.0, $0.1) })
    }
}
