import NIOCore

/// A message after the handshake (BEP 3, plus BEP 5 `port`, BEP 6 fast extension, BEP 10 extended).
///
/// Payload-carrying cases hold `ByteBuffer`s that are slices of the inbound buffer, so decoding a
/// 16 KiB block does not copy it.
public enum PeerMessage: Sendable, Equatable {
    /// A zero-length message that keeps the connection open.
    case keepAlive
    /// The sender will not answer requests.
    case choke
    /// The sender will answer requests.
    case unchoke
    /// The sender wants pieces we have.
    case interested
    /// The sender wants nothing from us.
    case notInterested
    /// The sender now has (verified) `piece`.
    case have(piece: UInt32)
    /// The pieces the sender has, as raw wire bytes (high bit first). The Session validates the
    /// length and spare bits against the torrent's piece count (`Bitfield(wireBytes:count:)`).
    case bitfield(ByteBuffer)
    /// Asks for a block.
    case request(BlockRequest)
    /// Withdraws an earlier request.
    case cancel(BlockRequest)
    /// BEP 6: the sender will not serve this request.
    case reject(BlockRequest)
    /// A block of data: a slice of the inbound buffer, not a copy.
    case piece(index: UInt32, begin: UInt32, block: ByteBuffer)
    /// BEP 5: the sender's DHT port.
    case port(UInt16)
    /// BEP 6: the sender suggests we download `piece`.
    case suggest(piece: UInt32)
    /// BEP 6: the sender has every piece (instead of a bitfield).
    case haveAll
    /// BEP 6: the sender has no piece (instead of a bitfield).
    case haveNone
    /// BEP 6: we may request `piece` even while choked.
    case allowedFast(piece: UInt32)
    /// BEP 10: an extension message; `id` 0 is the extension handshake (`ExtensionHandshake`).
    case extended(id: UInt8, payload: ByteBuffer)
}

/// The message id byte that follows the length prefix.
public enum PeerMessageID: UInt8, Sendable, CaseIterable {
    case choke = 0, unchoke = 1, interested = 2, notInterested = 3, have = 4, bitfield = 5
    case request = 6, piece = 7, cancel = 8, port = 9
    case suggest = 0x0D, haveAll = 0x0E, haveNone = 0x0F, reject = 0x10, allowedFast = 0x11
    case extended = 20

    /// The exact message length (id byte plus payload) for messages of fixed size; nil for
    /// `bitfield`, `piece` and `extended`, whose size varies.
    public var fixedLength: UInt32? {
        switch self {
        case .choke, .unchoke, .interested, .notInterested, .haveAll, .haveNone: 1
        case .have, .suggest, .allowedFast: 5
        case .request, .cancel, .reject: 13
        case .port: 3
        case .bitfield, .piece, .extended: nil
        }
    }
}

extension PeerMessage {
    /// The id byte of this message on the wire; nil for keep-alive, which has none.
    public var messageID: PeerMessageID? {
        switch self {
        case .keepAlive: nil
        case .choke: .choke
        case .unchoke: .unchoke
        case .interested: .interested
        case .notInterested: .notInterested
        case .have: .have
        case .bitfield: .bitfield
        case .request: .request
        case .cancel: .cancel
        case .reject: .reject
        case .piece: .piece
        case .port: .port
        case .suggest: .suggest
        case .haveAll: .haveAll
        case .haveNone: .haveNone
        case .allowedFast: .allowedFast
        case .extended: .extended
        }
    }
}
