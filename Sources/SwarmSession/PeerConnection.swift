import DequeModule
import NIOCore
import SwarmMetainfo
import SwarmPieces
import SwarmWire

/// A worker: one peer connection. It only moves bytes — it decodes frames, hands every event to
/// the Foreman, and writes what the Foreman tells it to. All piece decisions are the Foreman's.
///
/// Lives on the torrent's event loop, like the Foreman, so calls between them are plain calls.
final class PeerConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = PeerWireFrame
    typealias OutboundOut = PeerWireFrame

    let key: PeerKey
    /// The peer's IP address (bans are by host: an incoming peer's port changes every time).
    let host: String
    /// `host:port`, as logged and as the peer directory knows outbound peers.
    let address: String
    /// The port we dialled (nil for an incoming peer, whose port is not where it listens).
    let port: UInt16?
    let isOutbound: Bool
    private unowned let foreman: Foreman
    private var context: ChannelHandlerContext?

    // Protocol state, read and written by the Foreman.
    var handshakeDone = false
    var remotePeerID: PeerID?
    var supportsFast = false
    var supportsExtensions = false
    var peerChoking = true
    var peerInterested = false
    var amChoking = true
    var amInterested = false
    var isSeed = false
    var pieces: Bitfield
    /// Pieces the peer lets us fetch while it chokes us (BEP 6 `allowed fast`), at most
    /// `Foreman.allowedFastLimit` of them.
    var allowedFast: Set<Int> = []
    /// The most requests the peer says it queues (BEP 10 `reqq`).
    var peerRequestQueueLimit = 250
    /// The ids the peer's extension handshake gave `ut_metadata` and `ut_pex` (nil: it has not
    /// offered them), and the port it says it listens on.
    var theirMetadataID: UInt8?
    var theirPexID: UInt8?
    var theirListenPort: UInt16?
    /// Peer exchange: when the next message to it is due (nil until its extension handshake),
    /// and the addresses it heard of from us (a subset of our peers: bounded by `--max-peers`
    /// plus the last message's drops).
    var pexNextAt: NIODeadline?
    var pexSent: Set<PeerAddress> = []
    /// Requests we sent that are not answered yet, with when they were sent.
    var outstanding: [BlockSpec: NIODeadline] = [:]
    /// Requests we cancelled, with when: a block the peer had already sent is still welcome if
    /// the piece needs it (at most `RequestScheduler.cancelledRequestLimit`, forgotten after 30 s).
    var cancelledByUs: [BlockSpec: NIODeadline] = [:]
    /// Our requests to it are blocks that reads wait for, asked from an empty queue, and none
    /// has arrived yet: nothing else is queued beside them (see `PiecePicker.pickBlocks`).
    var waitedBatchUnstarted = false
    /// How many requests we keep in flight; adapts to the peer's rate and round trip.
    var pipelineDepth = 32
    /// The pipeline's first climb, a block at a time (see `PipelineSlowStart`).
    var slowStart = PipelineSlowStart()
    /// The round trip our requests see (see `RoundTripEstimate`).
    var roundTrip = RoundTripEstimate()
    var lastBlockAt: NIODeadline
    var download = RateMeter()
    var upload = RateMeter()
    var hashFailures = 0
    /// Requests the peer made that we are serving from disk.
    var servingRequests = 0
    /// Requests the peer cancelled while we were reading them from disk (bounded by
    /// `servingRequests`): dropped instead of sent.
    var cancelledRequests: Set<BlockRequest> = []
    /// Requests that came while the peer could take no more (its channel not writable, its
    /// share of the upload queue in use), in order: served as it drains (`Uploader`), at most
    /// `Uploader.parkedRequestLimit` of them.
    var parkedRequests = Deque<BlockRequest>()
    /// When the TCP connection came up (the handshake has a deadline from then).
    private(set) var connectedAt: NIODeadline
    /// When the peer last sent us anything, and when we last sent it anything (keep-alives).
    private(set) var lastReceivedAt: NIODeadline
    private(set) var lastSentAt: NIODeadline
    /// The Foreman's clock: every time above is read from it.
    private let clock: any ForemanClock

    init(key: PeerKey, host: String, address: String, isOutbound: Bool, pieceCount: Int, foreman: Foreman) {
        self.key = key
        self.host = PeerDirectory.canonicalHost(host)
        self.address = address
        self.isOutbound = isOutbound
        port = isOutbound ? PeerAddress(parsing: address)?.port : nil
        self.foreman = foreman
        pieces = Bitfield(count: pieceCount)
        clock = foreman.clock
        let now = clock.now
        lastBlockAt = now
        connectedAt = now
        lastReceivedAt = now
        lastSentAt = now
    }

    /// `TCP_QUICKACK` from <netinet/tcp.h>, which NIO has no name for.
    private static let quickAck = ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: 12))

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        connectedAt = clock.now
        lastReceivedAt = connectedAt
        foreman.connectionOpened(self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .handshake(handshake):
            foreman.peer(self, sentHandshake: handshake)
        case let .message(message):
            foreman.peer(self, sent: message)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        lastReceivedAt = clock.now
        // Acknowledge at once. Peers may send with Nagle's algorithm on (libtorrent does not set
        // TCP_NODELAY): with our ACK delayed, the last partial segment of a piece waited 40 ms
        // for it (a seek in ten took 45 ms). The kernel leaves quick-ACK mode by itself, so it is
        // asked again after every read batch.
        try? context.channel.syncOptions?.setOption(Self.quickAck, value: 1)
        foreman.peerReadBatchEnded(self)
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { foreman.peerBecameWritable(self) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let violation = error as? PeerWireError {
            foreman.peer(self, brokeProtocol: violation)
        } else {
            foreman.peer(self, failed: "\(error)")
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        foreman.peerDisconnected(self)
        self.context = nil
    }

    // MARK: - Commands from the Foreman

    var isWritable: Bool { context?.channel.isWritable ?? false }

    func send(_ message: PeerMessage) {
        context?.write(wrapOutboundOut(.message(message)), promise: nil)
    }

    func sendHandshake(_ handshake: Handshake) {
        context?.writeAndFlush(wrapOutboundOut(.handshake(handshake)), promise: nil)
        lastSentAt = clock.now
    }

    func flush() {
        context?.flush()
        lastSentAt = clock.now
    }

    func close() {
        context?.close(promise: nil)
    }

    /// A buffer to build an outgoing `piece` message payload in, from the channel's allocator.
    func allocateBuffer(capacity: Int) -> ByteBuffer? {
        context?.channel.allocator.buffer(capacity: capacity)
    }
}

extension PeerConnection {
    /// Puts a peer worker for `foreman`'s torrent on `channel`: the one place that knows the
    /// peer pipeline (frame decoder bounded by the torrent's piece count, encoder, worker), for
    /// connections we dial and for those the engine's handshake router hands over. With
    /// `pipelineReady` the channel has its decoder and encoder already (a connection of a
    /// magnet's metadata phase, whose decoder is past the handshake; its bitfield bound is the
    /// metadata phase's, and `Foreman` checks a bitfield's length against the torrent anyway).
    @discardableResult
    static func install(on channel: Channel, foreman: Foreman, key: PeerKey, host: String, address: String,
                        isOutbound: Bool, pipelineReady: Bool = false) throws -> PeerConnection {
        let pieceCount = foreman.layout.pieceCount
        let peer = PeerConnection(key: key, host: host, address: address, isOutbound: isOutbound,
                                  pieceCount: pieceCount, foreman: foreman)
        if pipelineReady {
            try channel.pipeline.syncOperations.addHandler(peer)
        } else {
            try channel.pipeline.syncOperations.addHandlers([
                ByteToMessageHandler(PeerWireDecoder(limits: .limits(pieceCount: pieceCount))),
                PeerWireOutboundHandler(),
                peer,
            ])
        }
        return peer
    }
}
