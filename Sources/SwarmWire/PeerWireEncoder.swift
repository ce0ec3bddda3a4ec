import NIOCore

/// Encodes handshakes and messages straight into the outbound buffer. Use it through
/// `MessageToByteHandler(PeerWireEncoder())`.
public struct PeerWireEncoder: MessageToByteEncoder {
    public typealias OutboundIn = PeerWireFrame

    /// Creates an encoder.
    public init() {}

    public func encode(data: PeerWireFrame, out: inout ByteBuffer) throws {
        switch data {
        case let .handshake(handshake): Self.write(handshake, to: &out)
        case let .message(message): Self.write(message, to: &out)
        }
    }

    /// Appends the 68-byte handshake to `out`.
    public static func write(_ handshake: Handshake, to out: inout ByteBuffer) {
        out.writeInteger(UInt8(Handshake.protocolName.count))
        out.writeBytes(Handshake.protocolName)
        // Exactly 8 reserved bytes whatever the array holds: zero-padded or truncated.
        let reserved = handshake.reserved
        for index in 0..<8 {
            out.writeInteger(index < reserved.count ? reserved[index] : 0)
        }
        out.writeBytes(handshake.infoHash.bytes)
        out.writeBytes(handshake.peerID.bytes)
    }

    /// Appends one length-prefixed message to `out`.
    public static func write(_ message: PeerMessage, to out: inout ByteBuffer) {
        switch message {
        case .keepAlive:
            out.writeInteger(UInt32(0))
        case .choke, .unchoke, .interested, .notInterested, .haveAll, .haveNone:
            writeHeader(message, payloadLength: 0, to: &out)
        case let .have(piece), let .suggest(piece), let .allowedFast(piece):
            writeHeader(message, payloadLength: 4, to: &out)
            out.writeInteger(piece)
        case let .request(block), let .cancel(block), let .reject(block):
            writeHeader(message, payloadLength: 12, to: &out)
            out.writeMultipleIntegers(block.piece, block.begin, block.length)
        case let .bitfield(bits):
            writeHeader(message, payloadLength: bits.readableBytes, to: &out)
            out.writeImmutableBuffer(bits)
        case let .piece(index, begin, block):
            writeHeader(message, payloadLength: 8 + block.readableBytes, to: &out)
            out.writeMultipleIntegers(index, begin)
            out.writeImmutableBuffer(block)
        case let .port(port):
            writeHeader(message, payloadLength: 2, to: &out)
            out.writeInteger(port)
        case let .extended(id, payload):
            writeHeader(message, payloadLength: 1 + payload.readableBytes, to: &out)
            out.writeInteger(id)
            out.writeImmutableBuffer(payload)
        }
    }

    /// Writes the length prefix and id byte; `message` is never keep-alive here.
    private static func writeHeader(_ message: PeerMessage, payloadLength: Int, to out: inout ByteBuffer) {
        let id = message.messageID?.rawValue ?? 0
        out.writeMultipleIntegers(UInt32(truncatingIfNeeded: 1 + payloadLength), id)
    }
}
