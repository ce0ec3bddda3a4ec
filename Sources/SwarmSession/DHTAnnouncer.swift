import Logging
import NIOCore
import SwarmMetainfo
import Synchronization

/// Finds a torrent's peers through the engine's DHT node: a lookup at start, then one every
/// `interval`, or every `hungryInterval` while the torrent has fewer than `wantedPeers`; the
/// peers go to the Foreman as tracker peers do. Each lookup ends with our announce (when we
/// accept peers). Never used for a private torrent (BEP 27).
final class DHTAnnouncer: Sendable {
    /// Between lookups when the torrent has peers enough (BEP 5 suggests announcing every 15 min).
    static let interval = Duration.seconds(15 * 60)
    /// Between lookups while it is short of peers.
    static let hungryInterval = Duration.seconds(90)
    /// Fewer connected peers than this makes the torrent hungry.
    static let wantedPeers = 10
    /// How often the peer count is looked at while waiting.
    static let peerCheckInterval = Duration.seconds(10)

    private let engine: SwarmEngine
    private let infoHash: InfoHash
    private let announcePort: UInt16?
    private let foreman: NIOLoopBound<Foreman>
    private let eventLoop: EventLoop
    private let logger: Logger
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(engine: SwarmEngine, infoHash: InfoHash, announcePort: UInt16?, foreman: NIOLoopBound<Foreman>,
         eventLoop: EventLoop, logger: Logger) {
        self.engine = engine
        self.infoHash = infoHash
        self.announcePort = announcePort
        self.foreman = foreman
        self.eventLoop = eventLoop
        self.logger = logger
    }

    func start() {
        let running = Task { await self.run() }
        task.withLock { $0 = running }
    }

    /// Cancels the schedule and any lookup under way.
    func stop() {
        task.withLock { $0?.cancel() }
    }

    private func run() async {
        let foreman = self.foreman
        let loop = eventLoop
        let logger = self.logger
        var lookups = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let total = Atomic<Int>(0)
            await engine.dhtLookup(infoHash, announcePort: announcePort) { peers in
                let count = total.add(peers.count, ordering: .relaxed).newValue
                logger.debug("DHT found peers", metadata: ["new": "\(peers.count)", "total": "\(count)",
                                                            "after": "\(ContinuousClock.now - started)"])
                let addresses = peers.map { (host: $0.host, port: $0.port) }
                loop.execute { foreman.value.addPeerAddresses(addresses) }
            }
            // The first one at info level (tests wait for it: we have announced); later ones at debug.
            logger.log(level: lookups == 0 ? .info : .debug, "DHT lookup done",
                       metadata: ["peers": "\(total.load(ordering: .relaxed))", "took": "\(ContinuousClock.now - started)",
                                  "announcedPort": "\(announcePort.map(String.init) ?? "none")"])
            lookups += 1
            await waitForNextLookup(since: started)
        }
    }

    private func waitForNextLookup(since started: ContinuousClock.Instant) async {
        while !Task.isCancelled {
            let elapsed = ContinuousClock.now - started
            let hungry = await peerCount() < Self.wantedPeers
            let wait = (hungry ? Self.hungryInterval : Self.interval) - elapsed
            if wait <= .zero { return }
            try? await Task.sleep(for: min(wait, Self.peerCheckInterval))
        }
    }

    private func peerCount() async -> Int {
        let foreman = self.foreman
        return (try? await eventLoop.submit { foreman.value.peers.count }.get()) ?? 0
    }
}
