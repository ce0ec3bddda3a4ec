import NIOCore
import SwarmMetainfo
import SwarmPieces
import SwarmWire

/// A worker of the metadata phase: one connection to a peer that may hold the info dictionary a
/// magnet link names. Like `PeerConnection` it only moves bytes and reports to its owner (the
/// `MetadataFetch`), which decides everything. Lives on the engine's event loop.
///
/// What the peer says besides the metadata exchange (its bitfield, haves, choking) is kept, in
/// order and bounded, so that when the metadata is complete the connection can be handed to the
/// torrent (`MetadataHandover`) with nothing lost: the torrent then hears it as if it had been
/// there from the handshake. Once handed over (`parked`) it reports to nobody until adopted.
final class MetadataPeer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = PeerWireFrame
    typealias OutboundOut = PeerWireFrame

    let key: PeerKey
    /// The peer's IP address, canonical (bans are by host).
    let host: String
    let address: String
    private weak var owner: MetadataFetch?
    private var context: ChannelHandlerContext?

    /// State the owner reads and writes.
    var handshakeDone = false
    var connectedAt: NIODeadline
    /// The id the peer wants `ut_metadata` and `ut_pex` messages sent with.
    var metadataID: UInt8?
    var pexID: UInt8?
    /// The info dictionary's size as the peer states it (`metadata_size`).
    var statedSize: Int?
    /// The peer's handshake, and the payload of its last extension handshake.
    var handshake: Handshake?
    var extensionHandshake: ByteBuffer?
    /// The peer's other messages so far, in order (see above); nil once there were too many to
    /// keep, which makes the connection one not worth handing over.
    private(set) var heard: [PeerMessage]? = []
    /// Whether we told the peer `interested` (the torrent that adopts the connection knows).
    var saidInterested = false
    /// Handed over: waiting to be adopted by the torrent, reporting to nobody.
    var parked = false
    /// Whether the connection is still open.
    var isOpen: Bool { context != nil }

    /// Messages kept for the handover: a bitfield, then haves (a peer completing pieces while we
    /// fetch the metadata), choking changes; more means a connection not worth keeping.
    static let maxHeard = 2_048

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
        owner?.opened(self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .handshake(handshake):
            self.handshake = handshake
            owner?.peer(self, sentHandshake: handshake)
        case let .message(.extended(id, payload)):
            if id == 0 { extensionHandshake = payload }
            if !parked { owner?.peer(self, sentExtended: id, payload: payload) }
        case .message(.keepAlive), .message(.piece), .message(.request), .message(.cancel):
            // Nothing asked for yet, nothing to give: a request is refused by the torrent's
            // worker later (it never got our bitfield).
            break
        case let .message(message):
            // Bitfields, haves, choking: nothing to do with them before the torrent is known,
            // but the torrent needs them (kept for the handover).
            if heard != nil, heard!.count < Self.maxHeard {
                heard!.append(message)
            } else {
                heard = nil
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !parked { owner?.peer(self, failed: "\(error)", brokeProtocol: error is PeerWireError) }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        if !parked { owner?.closed(self) }
    }

    /// Takes this worker out of the pipeline for the torrent's (`Foreman.adopt`); what it kept
    /// is read before.
    func leavePipeline() -> Channel? {
        guard let context else { return nil }
        let channel = context.channel
        self.context = nil
        channel.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        return channel
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
