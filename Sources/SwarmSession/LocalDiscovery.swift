import Logging
import NIOCore
import NIOPosix
import SwarmMetainfo
import SwarmWire

/// BEP 14 local service discovery for every torrent of an engine: announces each public torrent
/// to the LAN's multicast group (at its start, then every `announceInterval`) and hands the
/// peers other clients announce to the torrent they name — a fleet of machines mounting the same
/// torrent fetch from each other at LAN speed.
///
/// A newcomer's announcement is answered with ours (at most once a minute per torrent): peers
/// already running, seeds above all, do not dial out, so without the answer a newcomer would
/// wait for the next round to find them.
///
/// Confined to the engine's event loop. Invariants: at most one announcement per torrent per
/// `minimumGap` (BEP 14 asks for no more than one a minute); announcements received are
/// rate-limited (`maxReceivedPerSecond`), ours (our cookie) are ignored; private torrents are
/// never registered (BEP 27).
final class LocalDiscovery {
    /// Per torrent: the port to announce and where found peers go.
    struct Registration {
        let port: UInt16
        let found: (PeerAddress) -> Void
    }

    static let announceInterval = TimeAmount.minutes(5)
    static let minimumGap = TimeAmount.minutes(1)
    static let maxReceivedPerSecond = 50

    private let channel: Channel
    private let group: SocketAddress
    private let cookie: String
    private let logger: Logger
    private var torrents: [InfoHash: Registration] = [:]
    /// When each registered torrent was last announced.
    private var announcedAt: [InfoHash: NIODeadline] = [:]
    private var announceTask: RepeatedTask?
    private var receivedThisSecond = 0
    private var secondStartedAt = NIODeadline.now()

    private init(channel: Channel, group: SocketAddress, cookie: String, logger: Logger) {
        self.channel = channel
        self.group = group
        self.cookie = cookie
        self.logger = logger
    }

    /// Opens the multicast socket (shared with other clients on this host: SO_REUSEADDR) and joins
    /// the group on the interface of `host` ("0.0.0.0": the one the routing table picks). Nil, with
    /// a log line, where the host has no multicast route: discovery is then simply off.
    static func start(on eventLoop: EventLoop, host: String, logger: Logger) async -> NIOLoopBound<LocalDiscovery>? {
        let cookie = "swarmfs-" + String(UInt64.random(in: 1...UInt64.max), radix: 16)
        let holder = NIOLoopBoundBox.makeEmptyBox(valueType: LocalDiscovery.self, eventLoop: eventLoop)
        let bootstrap = DatagramBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DiscoveryReceiver(holder: holder))
                }
            }
        do {
            let group = try SocketAddress(ipAddress: LocalDiscoveryAnnouncement.ipv4Group,
                                          port: Int(LocalDiscoveryAnnouncement.groupPort))
            let channel = try await bootstrap.bind(host: "0.0.0.0", port: Int(LocalDiscoveryAnnouncement.groupPort)).get()
            guard let multicast = channel as? MulticastChannel, let options = channel as? SocketOptionProvider else {
                try? await channel.close()
                return nil
            }
            if host != "0.0.0.0", let interface = IPAddress(text: host), interface.isIPv4 {
                // Announce out of the interface we listen on (tests: loopback in a namespace).
                let address = interface.bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                try await options.setIPMulticastIF(in_addr(s_addr: address)).get()
            }
            // Other clients on this same machine hear us too.
            try await options.setIPMulticastLoop(1).get()
            try await multicast.joinGroup(group).get()
            return try await eventLoop.submit {
                let discovery = LocalDiscovery(channel: channel, group: group, cookie: cookie, logger: logger)
                holder.value = discovery
                discovery.startAnnouncing()
                return NIOLoopBound(discovery, eventLoop: eventLoop)
            }.get()
        } catch {
            logger.notice("local peer discovery is off", metadata: ["reason": "\(error)"])
            return nil
        }
    }

    /// Announces `infoHash` now and on the schedule; peers others announce for it go to `found`.
    func add(_ infoHash: InfoHash, port: UInt16, found: @escaping (PeerAddress) -> Void) {
        torrents[infoHash] = Registration(port: port, found: found)
        announce([infoHash], port: port)
    }

    func remove(_ infoHash: InfoHash) {
        torrents[infoHash] = nil
        announcedAt[infoHash] = nil
    }

    func close() {
        announceTask?.cancel()
        announceTask = nil
        torrents.removeAll()
        announcedAt.removeAll()
        channel.close(promise: nil)
    }

    private func startAnnouncing() {
        let bound = NIOLoopBound(self, eventLoop: channel.eventLoop)
        announceTask = channel.eventLoop.scheduleRepeatedTask(initialDelay: Self.announceInterval,
                                                              delay: Self.announceInterval) { _ in
            bound.value.announceAll()
        }
    }

    private func announceAll() {
        // One datagram per port, several torrents each (BEP 14 allows it), within its size.
        var byPort: [UInt16: [InfoHash]] = [:]
        for (hash, registration) in torrents { byPort[registration.port, default: []].append(hash) }
        for (port, hashes) in byPort {
            var start = 0
            while start < hashes.count {
                let end = min(hashes.count, start + LocalDiscoveryAnnouncement.maxInfoHashes)
                announce(Array(hashes[start..<end]), port: port)
                start = end
            }
        }
    }

    private func announce(_ hashes: [InfoHash], port: UInt16) {
        let now = NIODeadline.now()
        for hash in hashes { announcedAt[hash] = now }
        let datagram = LocalDiscoveryAnnouncement(port: port, infoHashes: hashes, cookie: cookie).encoded()
        let envelope = AddressedEnvelope(remoteAddress: group, data: channel.allocator.buffer(bytes: datagram))
        channel.writeAndFlush(envelope, promise: nil)
    }

    fileprivate func received(_ envelope: AddressedEnvelope<ByteBuffer>) {
        let now = NIODeadline.now()
        if now - secondStartedAt >= .seconds(1) {
            secondStartedAt = now
            receivedThisSecond = 0
        }
        receivedThisSecond += 1
        guard receivedThisSecond <= Self.maxReceivedPerSecond,
              let announcement = try? LocalDiscoveryAnnouncement(parsing: envelope.data.readableBytesView),
              announcement.cookie != cookie, let host = envelope.remoteAddress.ipAddress else { return }
        for hash in announcement.infoHashes {
            guard let registration = torrents[hash] else { continue }
            logger.debug("peer found on the local network", metadata: ["peer": "\(host):\(announcement.port)",
                                                                        "infoHash": "\(hash.hex)"])
            registration.found(PeerAddress(host: host, port: announcement.port))
            if let last = announcedAt[hash], now - last >= Self.minimumGap {
                announce([hash], port: registration.port)
            }
        }
    }
}

private final class DiscoveryReceiver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    /// The service, once it exists (the receiver is installed before it is made).
    private let holder: NIOLoopBoundBox<LocalDiscovery?>

    init(holder: NIOLoopBoundBox<LocalDiscovery?>) {
        self.holder = holder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        holder.value?.received(unwrapInboundIn(data))
    }
}
