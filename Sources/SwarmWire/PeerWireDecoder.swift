import NIOCore
import SwarmMetainfo

/// Decodes a peer connection's inbound bytes: first the 68-byte handshake, then length-prefixed
/// messages. Use it through `ByteToMessageHandler(PeerWireDecoder(limits:))`.
///
/// Hostile input never makes it allocate or wait for more than the limits allow: a length prefix
/// above the limit, or a length that does not fit the message id, throws as soon as it is seen.
/// Unknown message ids are skipped. `piece` blocks are slices of the inbound buffer (no copy).
public struct PeerWireDecoder: ByteToMessageDecoder {
    public typealias InboundOut = PeerWireFrame

    /// The bounds applied to every message.
    public var limits: PeerWireLimits
    private var awaitingHandshake: Bool

    /// Creates a decoder that expects a handshake first (set `expectHandshake: false` to decode
    /// bare messages, e.g. after a handshake was read elsewhere).
    public init(limits: PeerWireLimits = .default, expectHandshake: Bool = true) {
        self.limits = limits
        self.awaitingHandshake = expectHandshake
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try decodeFrame(from: &buffer) else { return .needMoreData }
        if let frame { context.fireChannelRead(Self.wrapInboundOut(frame)) }
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        let state = try decode(context: context, buffer: &buffer)
        // A truncated trailing frame is dropped: the connection is ending and nothing more will come.
        if state == .needMoreData { buffer.moveReaderIndex(to: buffer.writerIndex) }
        return state
    }

    /// Decodes one frame from the front of `buffer`, without a channel (also used by tests).
    ///
    /// - Returns: nil when more bytes are needed (nothing consumed); `.some(nil)` when a message
    ///   with an unknown id was consumed and skipped; otherwise the frame.
    public mutating func decodeFrame(from buffer: inout ByteBuffer) throws(PeerWireError) -> PeerWireFrame?? {
        if awaitingHandshake {
            guard let handshake = try Self.decodeHandshake(from: &buffer) else { return nil }
            awaitingHandshake = false
            return .some(.handshake(handshake))
        }
        return try decodeMessage(from: &buffer)
    }

    private func decodeMessage(from buffer: inout ByteBuffer) throws(PeerWireError) -> PeerWireFrame?? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        let limit = limits.maxMessageLength
        guard length <= limit else { throw .messageTooLarge(length: length, limit: limit) }
        if length == 0 {
            buffer.moveReaderIndex(forwardBy: 4)
            return .some(.message(.keepAlive))
        }
        // Check the length against the id as soon as the id is visible, before waiting for the body.
        guard let id = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self) else { return nil }
        try validate(id: id, length: length)
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        let payloadLength = Int(length) - 1
        guard let known = PeerMessageID(rawValue: id) else {
            buffer.moveReaderIndex(forwardBy: payloadLength)
            return .some(nil)
        }
        return .some(.message(try Self.decodePayload(known, length: payloadLength, from: &buffer)))
    }

    private func validate(id: UInt8, length: UInt32) throws(PeerWireError) {
        if let known = PeerMessageID(rawValue: id) {
            if let fixed = known.fixedLength {
                guard length == fixed else { throw .malformed(messageID: id, length: length) }
                return
            }
            let minimum: UInt32 = switch known {
            case .piece: 9
            case .extended: 2
            default: 1
            }
            guard length >= minimum else { throw .malformed(messageID: id, length: length) }
        }
        let limit = limits.maxLength(forID: id)
        guard length <= limit else { throw .messageTooLarge(length: length, limit: limit) }
    }

    /// Reads the payload of a message whose length was validated; `buffer` holds all of it.
    private static func decodePayload(
        _ id: PeerMessageID, length: Int, from buffer: inout ByteBuffer
    ) throws(PeerWireError) -> PeerMessage {
        switch id {
        case .choke: return .choke
        case .unchoke: return .unchoke
        case .interested: return .interested
        case .notInterested: return .notInterested
        case .haveAll: return .haveAll
        case .haveNone: return .haveNone
        case .have: return .have(piece: try readUInt32(&buffer, id))
        case .suggest: return .suggest(piece: try readUInt32(&buffer, id))
        case .allowedFast: return .allowedFast(piece: try readUInt32(&buffer, id))
        case .request: return .request(try readBlockRequest(&buffer, id))
        case .cancel: return .cancel(try readBlockRequest(&buffer, id))
        case .reject: return .reject(try readBlockRequest(&buffer, id))
        case .port:
            guard let port = buffer.readInteger(as: UInt16.self) else { throw .malformed(messageID: id.rawValue, length: 3) }
            return .port(port)
        case .bitfield:
            guard let bits = buffer.readSlice(length: length) else { throw malformed(id, length) }
            return .bitfield(bits)
        case .piece:
            guard let index = buffer.readInteger(as: UInt32.self),
                  let begin = buffer.readInteger(as: UInt32.self),
                  let block = buffer.readSlice(length: length - 8)
            else { throw malformed(id, length) }
            return .piece(index: index, begin: begin, block: block)
        case .extended:
            guard let extensionID = buffer.readInteger(as: UInt8.self),
                  let payload = buffer.readSlice(length: length - 1)
            else { throw malformed(id, length) }
            return .extended(id: extensionID, payload: payload)
        }
    }

    private static func malformed(_ id: PeerMessageID, _ payloadLength: Int) -> PeerWireError {
        .malformed(messageID: id.rawValue, length: UInt32(clamping: payloadLength + 1))
    }

    private static func readUInt32(_ buffer: inout ByteBuffer, _ id: PeerMessageID) throws(PeerWireError) -> UInt32 {
        guard let value = buffer.readInteger(as: UInt32.self) else { throw malformed(id, 4) }
        return value
    }

    private static func readBlockRequest(_ buffer: inout ByteBuffer, _ id: PeerMessageID) throws(PeerWireError) -> BlockRequest {
        guard let piece = buffer.readInteger(as: UInt32.self),
              let begin = buffer.readInteger(as: UInt32.self),
              let length = buffer.readInteger(as: UInt32.self)
        else { throw malformed(id, 12) }
        return BlockRequest(piece: piece, begin: begin, length: length)
    }

    /// Decodes the 68-byte handshake, rejecting a wrong protocol string as soon as its first bad
    /// byte arrives. Returns nil (consuming nothing) until all 68 bytes are there.
    public static func decodeHandshake(from buffer: inout ByteBuffer) throws(PeerWireError) -> Handshake? {
        let start = buffer.readerIndex
        let headerLength = 1 + Handshake.protocolName.count
        let visible = min(buffer.readableBytes, headerLength)
        for offset in 0..<visible {
            let expected = offset == 0 ? UInt8(Handshake.protocolName.count) : Handshake.protocolName[offset - 1]
            if buffer.getInteger(at: start + offset, as: UInt8.self) != expected {
                throw .badHandshakeProtocol(offset: offset)
            }
        }
        guard buffer.readableBytes >= Handshake.encodedLength else { return nil }
        buffer.moveReaderIndex(forwardBy: headerLength)
        guard let reserved = buffer.readBytes(length: 8),
              let hashBytes = buffer.readBytes(length: 20),
              let idBytes = buffer.readBytes(length: 20),
              let peerID = PeerID(bytes: idBytes)
        else { throw .badHandshakeProtocol(offset: headerLength) }
        guard let infoHash = InfoHash(bytes: hashBytes) else { throw .badHandshakeInfoHash }
        return Handshake(infoHash: infoHash, peerID: peerID, reserved: reserved)
    }
}
