import Logging
import NIOCore
import NIOPosix
import SwarmDHT
import SwarmMetainfo
import SwarmStorage
import Synchronization

/// One of the engine's DHT nodes on its UDP socket (`EngineUDPSocket`; the IPv4 one is shared
/// with uTP) — one per address family (BEP 32: IPv4 and IPv6 are two DHTs with two tables; see
/// `DHTFamilies`): restores the family's routing table from its state file,
/// resolves the bootstrap hosts of that family off the loop, bootstraps, ticks the node, saves
/// the table every few minutes and at stop. Every call into the node happens on the engine's
/// event loop.
///
/// Invariants: the node lives in `box` on `eventLoop` from `start` until `stop`; after `stop`
/// every lookup has finished and no datagram reaches the node; the node files, asks and names nodes of
/// `family` only.
final class DHTService: Sendable {
    /// The UDP port the node answers on.
    let port: UInt16
    /// The address family of the socket and of every node the table holds.
    let family: DHTAddressFamily
    private let socket: EngineUDPSocket
    private let box: NIOLoopBound<NodeBox>
    private let eventLoop: EventLoop
    private let configuration: DHTConfiguration
    private let logger: Logger
    private let nodeCountFigure = Atomic<Int>(0)
    /// Resolving the bootstrap hosts, then the first bootstrap: lookups wait for it.
    private let ready = Mutex<Task<Void, Never>?>(nil)

    /// How often the node is ticked (timeouts, slow lookups).
    static let tickInterval = TimeAmount.milliseconds(250)
    /// How often the table is saved while running.
    static let saveInterval = Duration.seconds(10 * 60)
    /// The longest a lookup waits for the bootstrap hosts' names to resolve.
    static let resolutionWait = Duration.seconds(3)
    /// How often the traffic counters are logged (debug level; the benchmark reads them).
    static let figuresInterval = Duration.seconds(60)

    /// The node and the loop-confined things around it.
    final class NodeBox {
        var node: DHTNode?
        var ticker: RepeatedTask?
        var nextSave = ContinuousClock.now.advanced(by: DHTService.saveInterval)
        var nextFigures = ContinuousClock.now.advanced(by: DHTService.figuresInterval)
        /// The node id last logged (it changes once the external address is known: BEP 42).
        var loggedID: NodeID?
    }

    private init(port: UInt16, family: DHTAddressFamily, socket: EngineUDPSocket, box: NIOLoopBound<NodeBox>,
                 eventLoop: EventLoop, configuration: DHTConfiguration, logger: Logger) {
        self.port = port
        self.family = family
        self.socket = socket
        self.box = box
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.logger = logger
    }

    /// The nodes in the routing table (updated a few times a second).
    var nodeCount: Int { nodeCountFigure.load(ordering: .relaxed) }

    /// Starts a node of `family` on `socket` (bound by the engine for that family): restores
    /// the table and starts bootstrapping.
    static func start(configuration: DHTConfiguration, family: DHTAddressFamily, socket: EngineUDPSocket,
                      eventLoop: EventLoop, threadPool: NIOThreadPool, logger: Logger) async throws(SessionError) -> DHTService {
        let box = try await makeBox(eventLoop: eventLoop)
        do {
            try await eventLoop.submit {
                socket.setKRPCRoute { buffer, source in
                    box.value.node?.receive(buffer.readableBytesView, from: source, now: .now)
                }
            }.get()
        } catch {
            throw .shutDown
        }
        let boundPort = socket.port
        let saved = configuration.stateRoot.flatMap {
            DHTStateFile.load(root: $0, ipv6: family == .ipv6, limit: RoutingTable.maxStateLength)
        }
        let service = DHTService(port: boundPort, family: family, socket: socket, box: box, eventLoop: eventLoop,
                                 configuration: configuration, logger: logger)
        do {
            try await eventLoop.submit { service.makeNode(savedState: saved) }.get()
        } catch {
            throw .shutDown
        }
        let hosts = configuration.bootstrap
        service.ready.withLock { $0 = Task {
            let resolved = (try? await threadPool.runIfActive { HostResolution.resolve(hosts, family: family) }) ?? []
            try? await eventLoop.submit { service.beginBootstrap(hosts: resolved) }.get()
        } }
        return service
    }

    private static func makeBox(eventLoop: EventLoop) async throws(SessionError) -> NIOLoopBound<NodeBox> {
        do {
            return try await eventLoop.submit { NIOLoopBound(NodeBox(), eventLoop: eventLoop) }.get()
        } catch {
            throw .shutDown
        }
    }

    /// On the loop: the node (restored when the state is readable) and its ticker.
    private func makeNode(savedState: [UInt8]?) {
        let socket = self.socket
        var nodeConfiguration = DHTNodeConfiguration()
        nodeConfiguration.family = family
        let node = DHTNode(configuration: nodeConfiguration, savedState: savedState, now: .now) { bytes, address in
            guard let destination = try? SocketAddress(ipAddress: address.host, port: Int(address.port)) else { return }
            socket.send(bytes, to: destination)
        }
        box.value.node = node
        logger.info("DHT started", metadata: ["family": "\(family)", "udpPort": "\(port)", "nodeID": "\(node.nodeID)",
                                             "savedNodes": "\(node.nodeCount)"])
        // A saved table needs no name resolved: start from it now.
        if node.nodeCount > 0 {
            logger.info("DHT bootstrap", metadata: ["family": "\(family)", "from": "\(node.bootstrap(now: .now))",
                                                   "tableNodes": "\(node.nodeCount)"])
        }
        let box = self.box
        box.value.ticker = eventLoop.scheduleRepeatedTask(initialDelay: Self.tickInterval, delay: Self.tickInterval) { _ in
            self.tick()
        }
    }

    private func tick() {
        guard let node = box.value.node else { return }
        let now = ContinuousClock.now
        node.tick(now: now)
        nodeCountFigure.store(node.nodeCount, ordering: .relaxed)
        if node.nodeID != box.value.loggedID {
            if box.value.loggedID != nil {
                logger.info("DHT node id changed for our public address (BEP 42)",
                            metadata: ["nodeID": "\(node.nodeID)", "address": "\(node.externalAddress.map { "\($0)" } ?? "?")"])
            }
            box.value.loggedID = node.nodeID
        }
        if now >= box.value.nextSave {
            box.value.nextSave = now.advanced(by: Self.saveInterval)
            save(node, now: now)
        }
        if now >= box.value.nextFigures {
            box.value.nextFigures = now.advanced(by: Self.figuresInterval)
            logger.debug("DHT figures", metadata: figures(of: node))
        }
    }

    /// The node's traffic counters since start, as log metadata.
    private func figures(of node: DHTNode) -> Logger.Metadata {
        let figures = node.statistics
        return ["family": "\(family)", "nodes": "\(node.nodeCount)", "sentDatagrams": "\(figures.datagramsSent)",
                "sentBytes": "\(figures.bytesSent)", "receivedDatagrams": "\(figures.datagramsReceived)",
                "receivedBytes": "\(figures.bytesReceived)", "answered": "\(figures.queriesAnswered)",
                "refused": "\(figures.queriesRefused)", "dropped": "\(figures.datagramsDropped)"]
    }

    /// The bootstrap hosts are resolved: bootstrap through them too unless the table is already
    /// full enough (a bootstrap from the saved table may have run meanwhile).
    private func beginBootstrap(hosts: [PeerAddress]) {
        guard let node = box.value.node else { return }
        node.bootstrapHosts = hosts
        guard node.nodeCount < RoutingTable.bucketSize else { return }
        let source = node.bootstrap(now: .now)
        logger.info("DHT bootstrap", metadata: ["family": "\(family)", "from": "\(source)", "tableNodes": "\(node.nodeCount)"])
    }

    private func save(_ node: DHTNode, now: ContinuousClock.Instant) {
        guard let root = configuration.stateRoot else { return }
        let bytes = node.savedState(now: now)
        do {
            try DHTStateFile.save(root: root, ipv6: family == .ipv6, bytes: bytes)
            logger.debug("DHT table saved", metadata: ["family": "\(family)", "nodes": "\(node.nodeCount)",
                                                       "path": "\(DHTStateFile.path(root: root, ipv6: family == .ipv6))"])
        } catch {
            logger.warning("cannot save the DHT table", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - For the torrents

    /// See `SwarmEngine.dhtLookup`.
    func lookup(_ infoHash: InfoHash, announcePort: UInt16?, found: @escaping @Sendable ([PeerAddress]) -> Void) async {
        // The bootstrap hosts, when the table is nearly empty, are where a lookup starts: wait for
        // their names to resolve, but not for a resolver that hangs (the saved table may do).
        if let ready = ready.withLock({ $0 }) {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await ready.value }
                group.addTask { try? await Task.sleep(for: Self.resolutionWait) }
                await group.next()
                group.cancelAll()
            }
        }
        let handle = LookupHandle()
        let box = self.box
        let loop = eventLoop
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let started = loop.submit {
                    guard let node = box.value.node, !handle.cancelled else { return continuation.resume() }
                    handle.id = node.lookup(infoHash: infoHash, announcePort: announcePort, now: .now,
                                            found: found, finished: { continuation.resume() })
                }
                // A loop already shut down: there is no lookup to wait for.
                started.whenFailure { _ in continuation.resume() }
            }
        } onCancel: {
            loop.execute {
                handle.cancelled = true
                if let id = handle.id { box.value.node?.cancelLookup(id) }
            }
        }
    }

    /// See `SwarmEngine.dhtAddNode`.
    func addNode(host: String, port: UInt16) {
        guard let ip = IPAddress(text: host), family.reaches(ip) else { return }
        let box = self.box
        eventLoop.execute { box.value.node?.addNode(PeerAddress(ip: ip, port: port), now: .now) }
    }

    /// Ends every lookup and saves the table (the engine closes the socket).
    func stop() async {
        ready.withLock { $0?.cancel() }
        let box = self.box
        let service = self
        try? await eventLoop.submit {
            box.value.ticker?.cancel()
            guard let node = box.value.node else { return }
            box.value.node = nil
            node.finishAllLookups()
            service.save(node, now: .now)
            // The run's traffic, for the benchmark (Benchmarks/dht) and for curious users.
            service.logger.info("DHT stopped", metadata: service.figures(of: node))
        }.get()
    }
}

/// One lookup's id and whether its task was cancelled; touched only on the engine's loop (the
/// lock makes it Sendable, it is never contended).
private final class LookupHandle: Sendable {
    private let state = Mutex<(id: UInt64?, cancelled: Bool)>((nil, false))
    var id: UInt64? {
        get { state.withLock { $0.id } }
        set { state.withLock { $0.id = newValue } }
    }
    var cancelled: Bool {
        get { state.withLock { $0.cancelled } }
        set { state.withLock { $0.cancelled = newValue } }
    }
}
