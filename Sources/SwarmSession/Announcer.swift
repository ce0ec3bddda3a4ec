import Logging
import NIOCore
import NIOPosix
import SwarmMetainfo
import SwarmTracker
import SwarmWire
import Synchronization

/// Talks to the torrent's trackers on their schedule: `started` first, then re-announces at the
/// tracker's interval (sooner while we need peers), `completed` once, `stopped` at shutdown.
/// A dead tracker only costs log lines: peers we already have keep working.
final class Announcer: Sendable {
    private let trackers: TrackerSet
    private let metainfo: Metainfo
    private let peerID: PeerID
    private let port: UInt16
    private let key = UInt32.random(in: 1...UInt32.max)
    private let foreman: NIOLoopBound<Foreman>
    private let eventLoop: EventLoop
    private let logger: Logger
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(metainfo: Metainfo, peerID: PeerID, port: UInt16, group: EventLoopGroup,
         foreman: NIOLoopBound<Foreman>, eventLoop: EventLoop, logger: Logger) {
        trackers = TrackerSet(tiers: metainfo.trackers, eventLoopGroup: group, logger: logger)
        self.metainfo = metainfo
        self.peerID = peerID
        self.port = port
        self.foreman = foreman
        self.eventLoop = eventLoop
        self.logger = logger
    }

    func start() {
        let running = Task { await self.run() }
        task.withLock { $0 = running }
    }

    private func run() async {
        var event = AnnounceEvent.started
        // A tracker that keeps refusing says so once at warning level, not every announce.
        var reportedFailure: String?
        while !Task.isCancelled {
            guard let request = await makeRequest(event: event) else { return }
            switch await trackers.announce(request) {
            case let .success(response):
                event = .none
                reportedFailure = nil
                let peers = response.peers.map { (host: $0.host, port: $0.port) }
                let foreman = self.foreman
                logger.debug("tracker answered", metadata: ["peers": "\(peers.count)"])
                eventLoop.execute { foreman.value.addPeerAddresses(peers) }
            case let .failure(error):
                let failure = error.description
                if failure == reportedFailure {
                    logger.debug("announce failed again", metadata: ["error": "\(failure)"])
                } else {
                    logger.warning("announce failed", metadata: ["error": "\(failure)"])
                    reportedFailure = failure
                }
            }
            await waitForNextAnnounce()
        }
    }

    /// Fewer connected peers than this and we ask the trackers again as soon as they allow.
    private static let wantedPeers = 10
    /// How often the peer count is looked at between announces.
    private static let peerCheckInterval = Duration.seconds(10)

    /// Sleeps until the tracker's interval is up, or — once its minimum interval has passed —
    /// as soon as we are short of peers: peers can drop at any time of a 30-minute interval.
    private func waitForNextAnnounce() async {
        while !Task.isCancelled {
            let hungry = await peerCount() < Self.wantedPeers
            let delay = await trackers.nextAnnounceDelay(needMorePeers: hungry)
            if delay == .zero { return }
            try? await Task.sleep(for: min(delay, Self.peerCheckInterval))
        }
    }

    private func peerCount() async -> Int {
        let foreman = self.foreman
        return (try? await eventLoop.submit { foreman.value.peers.count }.get()) ?? 0
    }

    private func makeRequest(event: AnnounceEvent) async -> AnnounceRequest? {
        let foreman = self.foreman
        let layout = metainfo.layout
        guard let stats = try? await eventLoop.submit({ () -> (Int64, Int64, Int64) in
            let owner = foreman.value
            var left: Int64 = 0
            for piece in 0..<layout.pieceCount where !owner.picker.hasPiece(piece) {
                left += Int64(layout.pieceSize(piece))
            }
            return (owner.uploadMeter.total, owner.downloadMeter.total, left)
        }).get() else { return nil }
        return AnnounceRequest(infoHash: metainfo.infoHash, peerID: peerID.bytes, port: port,
                               uploaded: stats.0, downloaded: stats.1, left: stats.2, event: event,
                               numWant: 200, key: key, trackerID: nil)
    }

    /// Tells the trackers we finished (once).
    func completed() async {
        guard let request = await makeRequest(event: .completed) else { return }
        _ = await trackers.announce(request)
    }

    /// Cancels the schedule and says `stopped`, giving up after a short deadline.
    func stop() async {
        task.withLock { $0?.cancel() }
        if let request = await makeRequest(event: .stopped) {
            await trackers.announceStopped(request, deadline: .milliseconds(1500))
        }
        await trackers.shutdown()
    }
}
