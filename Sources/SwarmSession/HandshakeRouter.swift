import Logging
import NIOCore
import SwarmMetainfo
import SwarmWire

/// The torrents an engine runs, by info-hash, as its listen socket's router sees them.
///
/// Confined to the engine's event loop. Invariant: a Foreman is here from the moment its session
/// serves until its shutdown begins; `halfOpen` counts routers that have not yet decided.
final class TorrentTable {
    private(set) var foremen: [InfoHash: Foreman] = [:]
    var halfOpen = 0

    func add(_ foreman: Foreman) { foremen[foreman.metainfo.infoHash] = foreman }
    func remove(_ infoHash: InfoHash) { foremen[infoHash] = nil }
    func foreman(for infoHash: InfoHash) -> Foreman? { foremen[infoHash] }

    /// Whether a new connection may wait for its handshake: under the engine's cap, and some
    /// torrent has room for it with the others already waiting (so with one torrent, connections
    /// that never name it count against its `--max-peers`, as they did before the engine).
    func admitsHalfOpen(limit: Int) -> Bool {
        guard halfOpen < limit else { return false }
        return foremen.values.contains { $0.hasRoom(besides: halfOpen) }
    }
}

/// The first handler of every incoming connection (behind `EncryptionHandler`, which turns an
/// MSE connection into plaintext, unless `--encryption disable`): it reads the handshake's first 48 bytes
/// (`19 "BitTorrent protocol" reserved[8] info_hash[20]`), finds the torrent they name, and hands
/// the connection to that torrent's peer pipeline, replaying the bytes it read. A connection for
/// a torrent we do not run, or that does not speak BitTorrent, is closed; one that says nothing
/// for `timeout` is closed too.
///
/// It only peeks: the torrent's own decoder parses the whole handshake, as for outbound peers,
/// so there is one handshake parser and one pipeline installer.
final class HandshakeRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Bytes of the handshake that name the torrent.
    static let routingPrefixLength = 1 + 19 + 8 + 20
    static let timeout = TimeAmount.seconds(10)

    private let torrents: TorrentTable
    private let logger: Logger
    /// The peer's address when the channel's own is not it (a uTP connection's local socket pair).
    private let remote: SocketAddress?
    private var received: ByteBuffer?
    private var deadline: Scheduled<Void>?
    private var counted = false
    private var decided = false

    init(torrents: TorrentTable, logger: Logger, remote: SocketAddress? = nil) {
        self.torrents = torrents
        self.logger = logger
        self.remote = remote
    }

    func handlerAdded(context: ChannelHandlerContext) {
        counted = true
        torrents.halfOpen += 1
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: Self.timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        settle()
    }

    func channelActive(context: ChannelHandlerContext) {
        // Held back: the torrent's worker hears of the connection when it is installed.
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else { return }
        var bytes = unwrapInboundIn(data)
        if received == nil {
            received = bytes
        } else {
            received!.writeBuffer(&bytes)
        }
        guard let received else { return }
        let view = received.readableBytesView
        if let first = view.first, first != UInt8(Handshake.protocolName.count) {
            return refuse(context, "not a BitTorrent handshake")
        }
        let nameEnd = min(view.count, 1 + Handshake.protocolName.count)
        if !view.dropFirst().prefix(nameEnd - 1).elementsEqual(Handshake.protocolName.prefix(nameEnd - 1)) {
            return refuse(context, "not a BitTorrent handshake")
        }
        guard view.count >= Self.routingPrefixLength else { return }
        let hashStart = view.startIndex + 1 + Handshake.protocolName.count + 8
        guard let infoHash = InfoHash(bytes: view[hashStart..<(hashStart + 20)]) else { return refuse(context, "bad handshake") }
        guard let foreman = torrents.foreman(for: infoHash) else {
            return refuse(context, "a peer asked for a torrent we do not have (\(infoHash.hex))")
        }
        let remoteAddress = remote ?? context.channel.remoteAddress
        let host = PeerDirectory.canonicalHost(remoteAddress?.ipAddress ?? "?")
        guard foreman.acceptsIncoming(from: host) else { return refuse(context, nil) }
        decided = true
        settle()
        do {
            try PeerConnection.install(on: context.channel, foreman: foreman, key: foreman.makePeerKey(), host: host,
                                       address: "\(host):\(remoteAddress?.port ?? 0)", isOutbound: false)
        } catch {
            return refuse(context, "cannot set up the peer: \(error)")
        }
        // The worker sees the connection open and then everything the peer sent so far.
        context.fireChannelActive()
        context.fireChannelRead(wrapInboundOut(received))
        self.received = nil
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Nothing to pass on until the torrent's pipeline is installed.
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if decided {
            context.fireErrorCaught(error)
        } else {
            refuse(context, "\(error)")
        }
    }

    private func refuse(_ context: ChannelHandlerContext, _ why: String?) {
        decided = true
        received = nil
        settle()
        if let why {
            logger.debug("incoming connection closed", metadata: ["peer": "\((remote ?? context.channel.remoteAddress)?.description ?? "?")",
                                                                  "reason": "\(why)"])
        }
        context.close(promise: nil)
    }

    /// Leaves the half-open count and cancels the deadline, once.
    private func settle() {
        deadline?.cancel()
        deadline = nil
        if counted {
            counted = false
            torrents.halfOpen -= 1
        }
    }
}
