import NIOCore

/// The engine's global upload and download token buckets, shared by every torrent's Foreman.
///
/// Confined to the engine's event loop (all Foremen live there). Refilled by elapsed time, not per
/// call, so that any number of Foremen may refill on their own ticks without adding tokens twice.
final class RateLimits {
    var upload: TokenBucket
    var download: TokenBucket
    private var lastRefill: NIODeadline

    init(maxUploadRate: Int64, maxDownloadRate: Int64, now: NIODeadline = .now()) {
        upload = TokenBucket(bytesPerSecond: maxUploadRate)
        download = TokenBucket(bytesPerSecond: maxDownloadRate)
        lastRefill = now
    }

    /// Adds the tokens earned since the last refill (by whichever torrent asked).
    func refill(now: NIODeadline) {
        guard now > lastRefill else { return }
        let seconds = Double((now - lastRefill).nanoseconds) / 1e9
        lastRefill = now
        upload.refill(seconds: seconds)
        download.refill(seconds: seconds)
    }
}
