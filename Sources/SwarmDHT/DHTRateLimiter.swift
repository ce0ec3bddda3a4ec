import SwarmMetainfo

/// How many queries we answer: per source address (a token bucket each, so one node cannot make
/// us its amplifier) and in bytes for all sources together (the DHT's share of the upload).
///
/// Invariants: at most `maxSources` buckets are kept (when full, the fullest ones — sources that
/// have been quiet longest — are forgotten first); tokens never exceed their burst.
public struct DHTRateLimiter: Sendable {
    /// Queries answered per second per source, sustained.
    public let perSourceRate: Int
    /// Queries answered per source in a burst.
    public let perSourceBurst: Int
    /// Bytes of answers per second, all sources together.
    public let globalBytesPerSecond: Int
    /// Sources tracked at once.
    public let maxSources: Int

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private var sources: [IPAddress: Bucket] = [:]
    private var global: Bucket?

    /// A limiter with these rates.
    public init(perSourceRate: Int = 5, perSourceBurst: Int = 20, globalBytesPerSecond: Int = 8 * 1024,
                maxSources: Int = 1024) {
        self.perSourceRate = max(1, perSourceRate)
        self.perSourceBurst = max(1, perSourceBurst)
        self.globalBytesPerSecond = max(512, globalBytesPerSecond)
        self.maxSources = max(1, maxSources)
    }

    /// Whether a query from `source` may be answered at `now`; takes one of its tokens if so.
    public mutating func admitQuery(from source: IPAddress, now: ContinuousClock.Instant) -> Bool {
        var bucket = sources[source] ?? Bucket(tokens: Double(perSourceBurst), updated: now)
        refill(&bucket, rate: Double(perSourceRate), burst: Double(perSourceBurst), now: now)
        let admitted = bucket.tokens >= 1
        if admitted { bucket.tokens -= 1 }
        if sources[source] == nil, sources.count >= maxSources { forgetQuietSources(now: now) }
        sources[source] = bucket
        return admitted
    }

    /// Whether an answer of `bytes` fits the global budget at `now`; spends it if so.
    public mutating func admitAnswer(bytes: Int, now: ContinuousClock.Instant) -> Bool {
        let burst = Double(globalBytesPerSecond)
        var bucket = global ?? Bucket(tokens: burst, updated: now)
        refill(&bucket, rate: burst, burst: burst, now: now)
        let admitted = bucket.tokens >= Double(bytes)
        if admitted { bucket.tokens -= Double(bytes) }
        global = bucket
        return admitted
    }

    private func refill(_ bucket: inout Bucket, rate: Double, burst: Double, now: ContinuousClock.Instant) {
        guard now > bucket.updated else { return }
        let elapsed = now - bucket.updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        bucket.tokens = min(burst, bucket.tokens + seconds * rate)
        bucket.updated = now
    }

    /// Drops sources whose bucket has refilled (they lose nothing), else the oldest half.
    private mutating func forgetQuietSources(now: ContinuousClock.Instant) {
        let refillTime = Duration.seconds(Double(perSourceBurst) / Double(perSourceRate))
        sources = sources.filter { now - $0.value.updated < refillTime }
        guard sources.count >= maxSources else { return }
        let oldest = sources.sorted { $0.value.updated < $1.value.updated }.prefix(sources.count / 2 + 1)
        for (source, _) in oldest { sources[source] = nil }
    }
}
