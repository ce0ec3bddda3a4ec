import Logging
import NIOCore
import NIOPosix
import SwarmMetainfo
import SwarmMSE
import SwarmWire
import Synchronization

/// The one engine of a swarmfs process: what all its torrents share.
///
/// It owns the network event loop (every torrent's Foreman and every peer connection lives on
/// it, as in libtorrent's single network thread: calls between them are plain calls), the thread
/// pool that hashes and writes pieces, our peer id, ONE listening socket whose `HandshakeRouter`
/// hands each incoming peer to the torrent its handshake names, the global upload and download
/// token buckets, the piece-memory budget and the cache-size limit. Torrents are added and removed while it runs.
///
/// Invariants: a torrent is in `sessions` from `add` until its shutdown begins, and its Foreman
/// is in the router's `TorrentTable` for the same span; after `shutdown` nothing of the engine
/// runs (loop, pool and socket are closed).
public final class SwarmEngine: Sendable {
    public let configuration: EngineConfiguration
    /// The peer id every torrent of this engine introduces itself with.
    public let peerID: PeerID
    /// The TCP port peers can reach us on (0 if not listening).
    public let listenPort: UInt16

    let group: MultiThreadedEventLoopGroup
    let eventLoop: EventLoop
    let threadPool: NIOThreadPool
    let torrents: NIOLoopBound<TorrentTable>
    let rateLimits: NIOLoopBound<RateLimits>
    let memoryBudget: NIOLoopBound<PieceMemoryBudget>
    let cacheSpace: NIOLoopBound<CacheSpace>
    /// BEP 14, when on and listening (see `LocalDiscovery`).
    let localDiscovery: NIOLoopBound<LocalDiscovery>?
    /// Magnets' metadata-phase connections waiting for their torrents (see `MetadataHandover`).
    let metadataHandover: NIOLoopBound<MetadataHandover>
    private let serverChannel: Channel?
    /// The engine's UDP sockets, one per address family (BEP 32), IPv4 first; empty when both
    /// DHT and uTP are off.
    private let udpSockets: [EngineUDPSocket]
    /// The DHT nodes, one per address family on the socket of that family, IPv4 first; empty
    /// when DHT is off.
    private let dht: [DHTService]
    /// uTP on the first UDP socket (nil when off).
    private let utp: UTPService?
    /// How the torrents dial peers (uTP, then TCP).
    let dialer: NIOLoopBound<PeerDialer>
    private let logger: Logger
    private let sessions = Mutex<[InfoHash: TorrentSession]>([:])
    private let isShutDown = Atomic<Bool>(false)

    private init(configuration: EngineConfiguration, peerID: PeerID, listenPort: UInt16,
                 group: MultiThreadedEventLoopGroup, threadPool: NIOThreadPool, torrents: NIOLoopBound<TorrentTable>,
                 rateLimits: NIOLoopBound<RateLimits>, memoryBudget: NIOLoopBound<PieceMemoryBudget>,
                 cacheSpace: NIOLoopBound<CacheSpace>, localDiscovery: NIOLoopBound<LocalDiscovery>?,
                 metadataHandover: NIOLoopBound<MetadataHandover>, serverChannel: Channel?,
                 udpSockets: [EngineUDPSocket], dht: [DHTService], utp: UTPService?,
                 dialer: NIOLoopBound<PeerDialer>, logger: Logger) {
        self.configuration = configuration
        self.peerID = peerID
        self.listenPort = listenPort
        self.group = group
        eventLoop = torrents.eventLoop
        self.threadPool = threadPool
        self.torrents = torrents
        self.rateLimits = rateLimits
        self.memoryBudget = memoryBudget
        self.cacheSpace = cacheSpace
        self.localDiscovery = localDiscovery
        self.metadataHandover = metadataHandover
        self.serverChannel = serverChannel
        self.udpSockets = udpSockets
        self.dht = dht
        self.utp = utp
        self.dialer = dialer
        self.logger = logger
    }

    /// Starts the loop and the pool and, if configured, listens for peers.
    public static func start(configuration: EngineConfiguration, logger: Logger) async throws(SessionError) -> SwarmEngine {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let eventLoop = group.next()
        let threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
        var serverChannel: Channel?
        var listenPort: UInt16 = 0
        var udpSockets: [EngineUDPSocket] = []
        var dht: [DHTService] = []
        var utp: UTPService?
        /// Undoes what started so far (a later step failed), last first.
        func tearDown() async {
            await utp?.stop()
            for node in dht { await node.stop() }
            for socket in udpSockets { await socket.close() }
            try? await serverChannel?.close()
            try? await threadPool.shutdownGracefully()
            try? await group.shutdownGracefully()
        }
        let shared: (NIOLoopBound<TorrentTable>, NIOLoopBound<RateLimits>, NIOLoopBound<PieceMemoryBudget>,
                     NIOLoopBound<CacheSpace>, NIOLoopBound<MetadataHandover>)
        do {
            shared = try await eventLoop.submit {
                (NIOLoopBound(TorrentTable(), eventLoop: eventLoop),
                 NIOLoopBound(RateLimits(maxUploadRate: configuration.maxUploadRate,
                                         maxDownloadRate: configuration.maxDownloadRate), eventLoop: eventLoop),
                 NIOLoopBound(PieceMemoryBudget(totalBytes: configuration.pieceMemoryBudget), eventLoop: eventLoop),
                 NIOLoopBound(CacheSpace(limit: configuration.cacheSizeLimit), eventLoop: eventLoop),
                 NIOLoopBound(MetadataHandover(eventLoop: eventLoop), eventLoop: eventLoop))
            }.get()
        } catch {
            await tearDown()
            throw .shutDown
        }
        if configuration.listens, configuration.tcp {
            do {
                (serverChannel, listenPort) = try await listen(configuration: configuration, torrents: shared.0,
                                                               eventLoop: eventLoop, logger: logger)
            } catch {
                await tearDown()
                throw error
            }
        }
        // The UDP sockets: one per address family (BEP 32) when DHT is on, both on one port number
        // (the TCP port's when it is free: the port message names one UDP port); the first
        // family's alone when only uTP is on. uTP takes the first (IPv4 unless the listen host is
        // an IPv6 address); each family's DHT node takes its own.
        if configuration.dht.enabled || configuration.utp {
            var port = listenPort == 0 ? configuration.listenPort ?? 0 : listenPort
            let families = DHTFamilies.nodes(listenHost: configuration.listenHost, hostHasRoutableIPv6: {
                configuration.dht.enabled && DHTFamilies.hostHasRoutableIPv6()
            })
            for (family, host) in families {
                do {
                    let socket = try await EngineUDPSocket.bind(host: host, preferredPort: port, ipv6: family == .ipv6,
                                                                eventLoop: eventLoop)
                    udpSockets.append(socket)
                    port = socket.port
                    if configuration.dht.enabled {
                        dht.append(try await DHTService.start(configuration: configuration.dht, family: family, socket: socket,
                                                              eventLoop: eventLoop, threadPool: threadPool, logger: logger))
                    }
                    if configuration.utp, utp == nil {
                        let service = try await UTPService(socket: socket, logger: logger)
                        await service.start(accept: configuration.listens
                            ? acceptUTP(torrents: shared.0, configuration: configuration, logger: logger) : nil)
                        utp = service
                        // Without TCP, the port peers reach us on is the UDP one.
                        if !configuration.tcp, configuration.listens { listenPort = socket.port }
                    }
                } catch where family == .ipv6 && !udpSockets.isEmpty {
                    // The IPv4 DHT works; a machine whose IPv6 socket cannot be had does without.
                    logger.info("no IPv6 DHT", metadata: ["error": "\(error)"])
                } catch {
                    await tearDown()
                    throw error
                }
            }
        }
        let dialerUTP = utp
        guard let dialer = try? await eventLoop.submit({
            NIOLoopBound(PeerDialer(connectFromHost: configuration.listenHost, utp: dialerUTP, tcp: configuration.tcp,
                                    encryption: PeerEncryption(policy: configuration.encryption)),
                         eventLoop: eventLoop)
        }).get() else {
            await tearDown()
            throw .shutDown
        }
        var localDiscovery: NIOLoopBound<LocalDiscovery>?
        if configuration.localDiscovery, serverChannel != nil {
            localDiscovery = await LocalDiscovery.start(on: eventLoop, host: configuration.listenHost, logger: logger)
        }
        return SwarmEngine(configuration: configuration, peerID: PeerID.generate(), listenPort: listenPort, group: group,
                           threadPool: threadPool, torrents: shared.0, rateLimits: shared.1, memoryBudget: shared.2,
                           cacheSpace: shared.3, localDiscovery: localDiscovery, metadataHandover: shared.4,
                           serverChannel: serverChannel, udpSockets: udpSockets, dht: dht, utp: utp, dialer: dialer,
                           logger: logger)
    }

    /// Incoming uTP connections go to the same handshake router as TCP ones, behind the same
    /// encryption.
    private static func acceptUTP(torrents: NIOLoopBound<TorrentTable>, configuration: EngineConfiguration,
                                  logger: Logger) -> @Sendable (Channel, SocketAddress) -> Void {
        let limit = configuration.maxHalfOpenIncoming
        let policy = PeerEncryption(policy: configuration.encryption)
        return { channel, address in
            let table = torrents.value
            logger.trace("incoming uTP connection", metadata: ["peer": "\(address)", "halfOpen": "\(table.halfOpen)"])
            do {
                guard table.admitsHalfOpen(limit: limit) else { throw SessionError.shutDown }
                try installIncomingEncryption(on: channel, torrents: table, policy: policy)
                try channel.pipeline.syncOperations.addHandler(HandshakeRouter(torrents: table, logger: logger, remote: address))
            } catch {
                channel.close(promise: nil)
            }
        }
    }

    /// MSE first on an accepted connection (unless encryption is off): the router behind it then
    /// sees the plaintext handshake either way.
    private static func installIncomingEncryption(on channel: Channel, torrents table: TorrentTable,
                                                  policy: PeerEncryption) throws {
        guard let allow = policy.methodsAccepted else { return }
        let role = EncryptionHandler.Role.incoming(allow: allow, plaintext: policy.acceptsPlaintext) { hash in
            table.foremen.keys.first { MSEHandshake.obfuscatedHash(of: $0) == hash }
        }
        try channel.pipeline.syncOperations.addHandler(EncryptionHandler(role: role))
    }

    private static func listen(configuration: EngineConfiguration, torrents: NIOLoopBound<TorrentTable>,
                               eventLoop: EventLoop, logger: Logger) async throws(SessionError) -> (Channel, UInt16) {
        let limit = configuration.maxHalfOpenIncoming
        let policy = PeerEncryption(policy: configuration.encryption)
        let bootstrap = ServerBootstrap(group: eventLoop)
            .serverChannelOption(ChannelOptions.backlog, value: 128)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.recvAllocator, value: PeerRoster.receiveBuffers)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let table = torrents.value
                    logger.trace("incoming connection", metadata: ["halfOpen": "\(table.halfOpen)"])
                    guard table.admitsHalfOpen(limit: limit) else {
                        channel.close(promise: nil)
                        return
                    }
                    try installIncomingEncryption(on: channel, torrents: table, policy: policy)
                    try channel.pipeline.syncOperations.addHandler(HandshakeRouter(torrents: table, logger: logger))
                }
            }
        let ports: [Int] = configuration.listenPort.map { [Int($0)] } ?? (Array(6881...6889) + [0])
        // "Any address" means IPv6 and IPv4 alike: a dual-stack socket on "::" where the machine
        // has IPv6, plain IPv4 where it has not.
        let hosts = configuration.listenHost == "0.0.0.0" ? ["::", "0.0.0.0"] : [configuration.listenHost]
        var lastError = "no port tried"
        for port in ports {
            for host in hosts {
                do {
                    let channel = try await bootstrap.bind(host: host, port: port).get()
                    return (channel, UInt16(channel.localAddress?.port ?? port))
                } catch {
                    lastError = "\(error)"
                }
            }
        }
        throw .listen(host: configuration.listenHost, port: configuration.listenPort, detail: lastError)
    }

    // MARK: - DHT

    /// The UDP port the engine's DHT nodes answer on; nil when DHT is off.
    public var dhtPort: UInt16? { dht.first?.port }

    /// The nodes in the DHT routing tables, both families (a status figure); nil when DHT is off.
    public var dhtNodeCount: Int? { dht.isEmpty ? nil : dht.reduce(0) { $0 + $1.nodeCount } }

    /// Looks `infoHash` up in the DHT: `found` hears each batch of new peers as they arrive (on
    /// the engine's loop); when the lookup ends we announce ourselves on `announcePort` (if
    /// given) to the closest nodes. Returns when the lookup finished (at most ~20 s, at once when
    /// the task is cancelled); a no-op when DHT is off.
    public func dhtLookup(_ infoHash: InfoHash, announcePort: UInt16?,
                          found: @escaping @Sendable ([PeerAddress]) -> Void) async {
        guard !dht.isEmpty, !isShutDown.load(ordering: .acquiring) else { return }
        // Both DHTs at once (BEP 32); each reports its own family's peers as they arrive.
        await withTaskGroup(of: Void.self) { group in
            for node in dht {
                group.addTask { await node.lookup(infoHash, announcePort: announcePort, found: found) }
            }
        }
    }

    /// A peer said its DHT node is at `host`:`port` (BEP 5 `port` message): we ping it, and it
    /// joins the routing table if it answers. A no-op when DHT is off.
    public func dhtAddNode(host: String, port: UInt16) {
        guard port != 0, !isShutDown.load(ordering: .acquiring) else { return }
        for node in dht { node.addNode(host: host, port: port) }
    }

    // MARK: - Torrents

    /// Opens (or adopts) the torrent's cache, checks it, and starts fetching and serving it on
    /// this engine. Returns once the torrent serves reads. A torrent already running here is
    /// refused (`.duplicate`). With `stopsEngine`, shutting the torrent down stops the engine
    /// too (a command that runs one torrent, found from a magnet link on this engine).
    public func add(_ metainfo: Metainfo, configuration: SessionConfiguration, logger: Logger,
                    stopsEngine: Bool = false) async throws(SessionError) -> TorrentSession {
        guard !isShutDown.load(ordering: .acquiring) else { throw .shutDown }
        let infoHash = metainfo.infoHash
        let claimed = sessions.withLock { running in running[infoHash] == nil }
        guard claimed else { throw .duplicate(infoHash: infoHash.hex, name: metainfo.name) }
        let session = try await TorrentSession.start(in: self, metainfo: metainfo, configuration: configuration,
                                                     logger: logger, ownsEngine: stopsEngine)
        let added = sessions.withLock { running -> Bool in
            guard running[infoHash] == nil else { return false }
            running[infoHash] = session
            return true
        }
        guard added, !isShutDown.load(ordering: .acquiring) else {
            await session.shutdown()
            throw added ? .shutDown : .duplicate(infoHash: infoHash.hex, name: metainfo.name)
        }
        return session
    }

    /// Stops a torrent: its waiting reads fail with `.shutdown`, its peers are closed, its cache
    /// is checkpointed and released. Nothing of it runs afterwards.
    public func remove(_ infoHash: InfoHash) async {
        guard let session = sessions.withLock({ $0.removeValue(forKey: infoHash) }) else { return }
        await session.shutdown()
    }

    /// The torrents running now.
    public var runningTorrents: [TorrentSession] {
        sessions.withLock { Array($0.values) }
    }

    /// Called by a session whose shutdown began, whoever started it.
    func sessionStopped(_ infoHash: InfoHash) {
        sessions.withLock { _ = $0.removeValue(forKey: infoHash) }
    }

    /// Stops every torrent, then the listening socket, the pool and the loop.
    public func shutdown() async {
        guard !isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let running = sessions.withLock { running in
            defer { running.removeAll() }
            return Array(running.values)
        }
        try? await serverChannel?.close()
        let (handover, localDiscovery) = (metadataHandover, self.localDiscovery)
        try? await eventLoop.submit {
            localDiscovery?.value.close()
            handover.value.closeAll()
        }.get()
        await withTaskGroup(of: Void.self) { group in
            for session in running { group.addTask { await session.shutdown() } }
        }
        for node in dht { await node.stop() }
        await utp?.stop()
        for socket in udpSockets { await socket.close() }
        // The pool first: a job finishing late completes its promise on the still-running loop.
        try? await threadPool.shutdownGracefully()
        try? await group.shutdownGracefully()
    }
}
