/// A byte rate smoothed over a few seconds. Fed on every transfer, sampled once a tick.
///
/// Invariant: `bytesPerSecond` is finite, never negative, and exactly 0 once a quiet meter has
/// decayed below `floor` — a geometric decay alone never reaches 0 (it sticks at a denormal),
/// and "remaining / rate" shown to a user would then overflow.
struct RateMeter: Sendable {
    private(set) var total: Int64 = 0
    private var sinceTick: Int64 = 0
    private(set) var bytesPerSecond: Double = 0
    /// The rate over the last tick alone: it follows a rising rate at once, where the average
    /// lags a few ticks behind.
    private(set) var lastTickBytesPerSecond: Double = 0

    /// Below this many bytes per second the rate is reported as 0: nobody is sending.
    static let floor: Double = 1

    mutating func add(_ bytes: Int) {
        // Peers decide how much arrives: saturate instead of trapping (2^63 bytes is never real).
        let count = Int64(clamping: bytes)
        total = total.addingReportingOverflow(count).overflow ? .max : total + count
        sinceTick = sinceTick.addingReportingOverflow(count).overflow ? .max : sinceTick + count
    }

    /// Folds the bytes since the last tick into the average (about a 3-second window).
    mutating func tick(seconds: Double) {
        guard seconds > 0, seconds.isFinite else { return }
        let instant = Double(sinceTick) / seconds
        sinceTick = 0
        lastTickBytesPerSecond = instant.isFinite ? instant : 0
        let smoothed = bytesPerSecond == 0 ? instant : bytesPerSecond * 0.6 + instant * 0.4
        bytesPerSecond = smoothed.isFinite && smoothed >= Self.floor ? smoothed : 0
    }
}
