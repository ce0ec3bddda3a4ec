import Logging
import NIOCore
import NIOPosix
import SwarmMetainfo
import SwarmTracker
import SwarmWire
import Synchronization

/// What an `Announcer` announces for: a running torrent (`ForemanAnnounceSubject`) or a magnet
/// link still fetching its metadata (`MetadataAnnounceSubject`).
protocol AnnounceSubject: Sendable {
    /// Bytes uploaded, downloaded and left, for the announce; nil once the subject stopped.
    func announceFigures() async -> (uploaded: Int64, downloaded: Int64, left: Int64)?
    /// Connected peers now (fewer than `Announcer.wantedPeers` and we ask again sooner).
    func connectedPeerCount() async -> Int
    /// Peers a tracker returned.
    func found(_ peers: [(host: String, port: UInt16)])
}

/// Talks to the torrent's trackers on their schedule: `started` first, then re-announces at the
/// tracker's interval (sooner while we need peers), `completed` once, `stopped` at shutdown.
/// A dead tracker only costs log lines: peers we already have keep working.
final class Announcer: Sendable {
    private let trackers: TrackerSet
    private let infoHash: InfoHash
    private let peerID: PeerID
    private let port: UInt16
    private let key = UInt32.random(in: 1...UInt32.max)
    private let subject: any AnnounceSubject
    private let logger: Logger
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(infoHash: InfoHash, trackers tiers: [[String]], peerID: PeerID, port: UInt16, group: EventLoopGroup,
         subject: any AnnounceSubject, logger: Logger) {
        trackers = TrackerSet(tiers: tiers, eventLoopGroup: group, logger: logger)
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = port
        self.subject = subject
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
                logger.debug("tracker answered", metadata: ["peers": "\(peers.count)"])
                subject.found(peers)
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
            let hungry = await subject.connectedPeerCount() < Self.wantedPeers
            let delay = await trackers.nextAnnounceDelay(needMorePeers: hungry)
            if delay == .zero { return }
            try? await Task.sleep(for: min(delay, Self.peerCheckInterval))
        }
    }

    private func makeRequest(event: AnnounceEvent) async -> AnnounceRequest? {
        guard let figures = await subject.announceFigures() else { return nil }
        return AnnounceRequest(infoHash: infoHash, peerID: peerID.bytes, port: port,
                               uploaded: figures.uploaded, downloaded: figures.downloaded, left: figures.left,
                               event: event, numWant: 200, key: key, trackerID: nil)
    }

    /// Tells the trackers we finished (once).
    func completed() async {
        guard let request = await makeRequest(event: .completed) else { return }
        _ = await trackers.announce(request)
    }

    /// Cancels the schedule without a word to the trackers (a magnet's metadata phase ends: the
    /// torrent announces itself next).
    func cancel() async {
        task.withLock { $0?.cancel() }
        await trackers.shutdown()
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

/// A running torrent, as its announcer sees it.
struct ForemanAnnounceSubject: AnnounceSubject {
    let foreman: NIOLoopBound<Foreman>
    let eventLoop: EventLoop

    func announceFigures() async -> (uploaded: Int64, downloaded: Int64, left: Int64)? {
        let foreman = self.foreman
        return try? await eventLoop.submit { () -> (uploaded: Int64, downloaded: Int64, left: Int64) in
            let owner = foreman.value
            let layout = owner.layout
            var left: Int64 = 0
            for piece in 0..<layout.pieceCount where !owner.picker.hasPiece(piece) {
                left += Int64(layout.pieceSize(piece))
            }
            return (owner.uploadMeter.total, owner.downloadMeter.total, left)
        }.get()
    }

    func connectedPeerCount() async -> Int {
        let foreman = self.foreman
        return (try? await eventLoop.submit { foreman.value.peers.count }.get()) ?? 0
    }

    func found(_ peers: [(host: String, port: UInt16)]) {
        let foreman = self.foreman
        eventLoop.execute { foreman.value.addPeerAddresses(peers) }
    }
}
