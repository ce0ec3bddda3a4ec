/// A byte rate smoothed over a few seconds. Fed on every transfer, sampled once a tick.
struct RateMeter: Sendable {
    private(set) var total: Int64 = 0
    private var sinceTick: Int64 = 0
    private(set) var bytesPerSecond: Double = 0

    mutating func add(_ bytes: Int) {
        total += Int64(bytes)
        sinceTick += Int64(bytes)
    }

    /// Folds the bytes since the last tick into the average (about a 3-second window).
    mutating func tick(seconds: Double) {
        guard seconds > 0 else { return }
        let instant = Double(sinceTick) / seconds
        bytesPerSecond = bytesPerSecond == 0 ? instant : bytesPerSecond * 0.6 + instant * 0.4
        sinceTick = 0
    }
}
