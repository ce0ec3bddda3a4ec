/// Why a datagram is not an acceptable KRPC message, with what is needed to answer it: a
/// malformed query that had a transaction id deserves error 203 (BEP 5), anything else is
/// dropped.
public struct KRPCDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public enum Reason: Sendable, Equatable {
        /// More than `KRPCMessage.maxDatagramLength` bytes.
        case tooLarge(length: Int)
        /// Not bencode, or bencode over the depth or element limits.
        case notBencode(detail: String)
        /// Bencode, but not a dictionary.
        case notADictionary
        /// A required key is absent.
        case missingKey(String)
        /// A key holds the wrong type of value (e.g. a string where an integer belongs).
        case wrongType(key: String)
        /// A string of the wrong length (a 19-byte id, a compact list cut short).
        case wrongLength(key: String, length: Int)
        /// A string longer than its limit.
        case tooLong(key: String, length: Int, limit: Int)
        /// An integer outside its range (a port above 65535).
        case outOfRange(key: String, value: Int64)
        /// A `y` other than `q`, `r` and `e`.
        case unknownMessageType([UInt8])
    }

    /// What is wrong.
    public var reason: Reason
    /// The message's `t`, when it had a usable one.
    public var transactionID: [UInt8]?
    /// True when the message said it was a query (`y` = `q`).
    public var isQuery: Bool

    /// An error for `reason`.
    public init(_ reason: Reason, transactionID: [UInt8]? = nil, isQuery: Bool = false) {
        self.reason = reason
        self.transactionID = transactionID
        self.isQuery = isQuery
    }

    public var description: String {
        let what: String
        switch reason {
        case let .tooLarge(length): what = "datagram of \(length) bytes exceeds \(KRPCMessage.maxDatagramLength)"
        case let .notBencode(detail): what = "not bencode: \(detail)"
        case .notADictionary: what = "not a dictionary"
        case let .missingKey(key): what = "no '\(key)'"
        case let .wrongType(key): what = "'\(key)' has the wrong type"
        case let .wrongLength(key, length): what = "'\(key)' has a wrong length of \(length) bytes"
        case let .tooLong(key, length, limit): what = "'\(key)' is \(length) bytes, over \(limit)"
        case let .outOfRange(key, value): what = "'\(key)' = \(value) is out of range"
        case let .unknownMessageType(type): what = "unknown message type \(String(decoding: type, as: UTF8.self).debugDescription)"
        }
        return "bad KRPC " + (isQuery ? "query" : "message") + ": " + what
    }
}
