import NIOCore
import SwarmMetainfo
import SwarmPieces
import SwarmWire

/// A worker of the metadata phase: one connection to a peer that may hold the info dictionary a
/// magnet link names. Like `PeerConnection` it only moves bytes and reports to its owner (the
/// `MetadataFetch`), which decides everything. Lives on the engine's event loop.
final class MetadataPeer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = PeerWireFrame
    typealias OutboundOut = PeerWireFrame

    let key: PeerKey
    /// The peer's IP address, canonical (bans are by host).
    let host: String
    let address: String
    private unowned let owner: MetadataFetch
    private var context: ChannelHandlerContext?

    /// State the owner reads and writes.
    var handshakeDone = false
    var connectedAt: NIODeadline
    /// The id the peer wants `ut_metadata` and `ut_pex` messages sent with.
    var metadataID: UInt8?
    var pexID: UInt8?
    /// The info dictionary's size as the peer states it (`metadata_size`).
    var statedSize: Int?

    /// Bitfields before the torrent's size is known may be as long as the largest info
    /// dictionary allows (32 MiB of 20-byte hashes); they are skipped unread here.
    static let limits = PeerWireLimits(maxBitfieldLength: UInt32(MetadataLayout.maxTotalSize / 20 / 8 + 1))

    init(key: PeerKey, host: String, address: String, owner: MetadataFetch, now: NIODeadline) {
        self.key = key
        self.host = PeerDirectory.canonicalHost(host)
        self.address = address
        self.owner = owner
        connectedAt = now
    }

    /// Puts a metadata worker on a freshly dialled `channel`.
    static func install(on channel: Channel, owner: MetadataFetch, key: PeerKey, host: String,
                        address: String, now: NIODeadline) throws {
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(PeerWireDecoder(limits: limits)),
            PeerWireOutboundHandler(),
            MetadataPeer(key: key, host: host, address: address, owner: owner, now: now),
        ])
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        owner.opened(self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .handshake(handshake):
            owner.peer(self, sentHandshake: handshake)
        case let .message(.extended(id, payload)):
            owner.peer(self, sentExtended: id, payload: payload)
        case .message:
            // Pieces, bitfields, choking: nothing to do with them before the torrent is known.
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        owner.peer(self, failed: "\(error)", brokeProtocol: error is PeerWireError)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        owner.closed(self)
        self.context = nil
    }

    func send(_ message: PeerMessage) {
        context?.write(wrapOutboundOut(.message(message)), promise: nil)
    }

    func sendHandshake(_ handshake: Handshake) {
        context?.writeAndFlush(wrapOutboundOut(.handshake(handshake)), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    func close() {
        context?.close(promise: nil)
    }
}
