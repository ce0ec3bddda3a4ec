/// Why bytes from a peer are not acceptable. Any of these closes the connection.
public enum PeerWireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A length prefix above the limit; thrown before any byte of the body is awaited or allocated.
    case messageTooLarge(length: UInt32, limit: UInt32)
    /// A known message whose length does not fit its id (e.g. a 3-byte `have`).
    case malformed(messageID: UInt8, length: UInt32)
    /// The handshake does not start with `19 "BitTorrent protocol"`; `offset` is the first bad byte.
    case badHandshakeProtocol(offset: Int)
    /// The handshake's info-hash bytes could not be read as an info-hash.
    case badHandshakeInfoHash
    /// A BEP 10 extension handshake that is not a bencoded dictionary.
    case badExtensionHandshake(detail: String)
    /// A BEP 9 `ut_metadata` message that is malformed or names sizes out of bounds.
    case badMetadataMessage(detail: String)
    /// A BEP 11 `ut_pex` message that is malformed.
    case badPexMessage(detail: String)

    public var description: String {
        switch self {
        case let .messageTooLarge(length, limit):
            "peer message of \(length) bytes exceeds the \(limit)-byte limit"
        case let .malformed(messageID, length):
            "malformed peer message id \(messageID) with length \(length)"
        case let .badHandshakeProtocol(offset):
            "not a BitTorrent handshake (bad byte at offset \(offset))"
        case .badHandshakeInfoHash:
            "handshake info-hash is invalid"
        case let .badExtensionHandshake(detail):
            "bad extension handshake: \(detail)"
        case let .badMetadataMessage(detail):
            "bad ut_metadata message: \(detail)"
        case let .badPexMessage(detail):
            "bad ut_pex message: \(detail)"
        }
    }
}
