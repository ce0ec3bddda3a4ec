import AsyncHTTPClient
import Logging
import NIOCore
import SwarmMetainfo

/// A torrent's trackers in BEP 12 tiers.
///
/// Each tier is shuffled once; an announce tries the trackers in order, tier after tier, and the
/// first that answers is moved to the front of its tier. Per tracker it keeps the interval,
/// `min interval` and `tracker id`, and it answers when the next announce is due.
public actor TrackerSet {
    private struct Entry {
        let url: String
        let client: (any TrackerClient)?
        var trackerID: String?
        var interval: Duration?
        var minInterval: Duration?
        /// True once this tracker answered an announce (so it gets a `stopped` at the end).
        var announced = false
        /// The last `warning message` logged for it: an unchanged warning is not logged again.
        var loggedWarning: String?
    }

    private var tiers: [[Entry]]
    private let configuration: TrackerSetConfiguration
    private let logger: Logger
    private let clock = ContinuousClock()
    private var lastAnnounce: ContinuousClock.Instant?
    private var lastSuccess: (url: String, interval: Duration, minInterval: Duration?)?
    private var consecutiveFailures = 0
    /// The failure last logged at info level: the same one again goes to the debug log.
    private var loggedFailure: String?
    private var isShutDown = false

    /// Creates the set.
    ///
    /// - Parameters:
    ///   - tiers: announce URLs by tier (`announce-list`, or `[[announce]]`). Unsupported URLs are
    ///     kept out with a log line; empty tiers are dropped.
    ///   - httpClient: nil uses a process-wide client tuned for trackers.
    ///   - shuffleSeed: seeds the within-tier shuffle (tests); nil shuffles randomly.
    public init(
        tiers: [[String]], eventLoopGroup: any EventLoopGroup, httpClient: HTTPClient? = nil,
        logger: Logger, configuration: TrackerSetConfiguration = TrackerSetConfiguration(),
        shuffleSeed: UInt64? = nil
    ) {
        var seeded = SplitMix64(seed: shuffleSeed ?? 0)
        var system = SystemRandomNumberGenerator()
        var built: [[Entry]] = []
        for tier in tiers {
            var entries: [Entry] = []
            for url in tier where !entries.contains(where: { $0.url == url }) {
                do {
                    let client = try makeTrackerClient(
                        url: url, eventLoopGroup: eventLoopGroup, httpClient: httpClient,
                        options: configuration.clientOptions)
                    entries.append(Entry(url: url, client: client))
                } catch {
                    logger.warning("ignoring tracker", metadata: ["tracker": "\(url)", "reason": "\(error)"])
                }
            }
            if shuffleSeed != nil { entries.shuffle(using: &seeded) } else { entries.shuffle(using: &system) }
            if !entries.isEmpty { built.append(entries) }
        }
        self.tiers = built
        self.configuration = configuration
        self.logger = logger
    }

    /// The tracker URLs in the order they will be tried (tiers flattened).
    public var orderedURLs: [[String]] { tiers.map { $0.map(\.url) } }

    /// True when there is no usable tracker at all.
    public var isEmpty: Bool { tiers.isEmpty }

    /// Announces through the tiers until one tracker answers.
    ///
    /// The request's `trackerID` is replaced by the one each tracker gave us. Returns the last
    /// error when every tracker failed (or `.unsupportedScheme("")` when there are none).
    public func announce(_ request: AnnounceRequest) async -> Result<AnnounceResponse, TrackerError> {
        // Intervals count from when the answer (or the last failure) came, not from when we asked.
        defer { lastAnnounce = clock.now }
        var lastError = TrackerError.unsupportedScheme("no usable tracker")
        for tierIndex in tiers.indices {
            // Snapshot the order: the actor may interleave another announce while this one waits.
            for url in tiers[tierIndex].map(\.url) {
                guard !isShutDown else { return .failure(lastError) }
                guard let position = tiers[tierIndex].firstIndex(where: { $0.url == url }),
                      let client = tiers[tierIndex][position].client
                else { continue }
                var perTracker = request
                perTracker.trackerID = tiers[tierIndex][position].trackerID ?? request.trackerID
                do {
                    let response = try await client.announce(perTracker, timeout: configuration.announceTimeout)
                    recordSuccess(response, url: url, tier: tierIndex)
                    return .success(response)
                } catch {
                    logger.debug("tracker announce failed", metadata: ["tracker": "\(url)", "error": "\(error)"])
                    lastError = error
                }
            }
        }
        consecutiveFailures += 1
        lastSuccess = nil
        // A torrent without trackers (peers given directly) is normal: nothing to report.
        guard !tiers.isEmpty else { return .failure(lastError) }
        let failure = lastError.description
        let metadata: Logger.Metadata = ["error": "\(failure)", "failures": "\(consecutiveFailures)"]
        if failure == loggedFailure {
            logger.debug("every tracker failed", metadata: metadata)
        } else {
            logger.info("every tracker failed", metadata: metadata)
            loggedFailure = failure
        }
        return .failure(lastError)
    }

    private func recordSuccess(_ response: AnnounceResponse, url: String, tier: Int) {
        guard let position = tiers[tier].firstIndex(where: { $0.url == url }) else { return }
        var entry = tiers[tier].remove(at: position)
        entry.announced = true
        entry.interval = response.interval
        entry.minInterval = response.minInterval
        if let trackerID = response.trackerID { entry.trackerID = trackerID }
        tiers[tier].insert(entry, at: 0)
        consecutiveFailures = 0
        loggedFailure = nil
        lastSuccess = (url, response.interval, response.minInterval)
        if let warning = response.warning, warning != entry.loggedWarning {
            logger.warning("tracker warning", metadata: ["tracker": "\(TrackerText.oneLine(url))", "warning": "\(warning)"])
        }
        tiers[tier][0].loggedWarning = response.warning
        logger.debug("tracker answered", metadata: [
            "tracker": "\(url)", "peers": "\(response.peers.count)", "interval": "\(response.interval)",
        ])
    }

    /// How long from now until the next announce should go out.
    ///
    /// After a success: the tracker's interval (at least `minimumInterval`), or, when more peers
    /// are needed, `peerHungryInterval` but never sooner than its `min interval`. After failures:
    /// exponential back-off. Before any announce: zero.
    public func nextAnnounceDelay(needMorePeers: Bool) -> Duration {
        guard let lastAnnounce else { return .zero }
        let wait: Duration
        if let lastSuccess {
            let regular = max(lastSuccess.interval, configuration.minimumInterval)
            if needMorePeers {
                let floor = lastSuccess.minInterval ?? .zero
                wait = min(regular, max(configuration.peerHungryInterval, floor))
            } else {
                wait = regular
            }
        } else if consecutiveFailures > 0 {
            let exponent = min(consecutiveFailures - 1, 16)
            wait = min(configuration.failureBackoffBase * (1 << exponent), configuration.failureBackoffCap)
        } else {
            return .zero
        }
        let elapsed = clock.now - lastAnnounce
        return elapsed >= wait ? .zero : wait - elapsed
    }

    /// Tells every tracker that answered us that we leave (`event=stopped`), concurrently, giving
    /// up after `deadline`. Best effort: failures are logged at debug level and ignored.
    public func announceStopped(_ request: AnnounceRequest, deadline: Duration) async {
        var stopped = request
        stopped.event = .stopped
        let targets: [(client: any TrackerClient, request: AnnounceRequest)] = tiers.joined()
            .filter(\.announced)
            .compactMap { entry in
                guard let client = entry.client else { return nil }
                var perTracker = stopped
                perTracker.trackerID = entry.trackerID ?? stopped.trackerID
                return (client, perTracker)
            }
        let logger = self.logger
        await withTaskGroup(of: Void.self) { group in
            for target in targets {
                group.addTask {
                    do {
                        _ = try await target.client.announce(target.request, timeout: deadline)
                    } catch {
                        logger.debug("stopped announce failed", metadata: ["tracker": "\(target.client.url)", "error": "\(error)"])
                    }
                }
            }
        }
    }

    /// Stops further announces. Clients hold no long-lived resources (UDP sockets live for one
    /// announce; the HTTP client is the caller's or the shared one), so nothing else is released.
    public func shutdown() async {
        isShutDown = true
    }
}
