/// Measured figures turned into what a user reads. Rates and ratios are `Double`s that may be
/// anything (a decaying rate, a status document from a daemon of another version): nothing
/// here traps, whatever comes in.
enum DisplayFigures {
    /// `value` as a whole number: NaN and negatives are 0, anything past `Int64` is `Int64.max`.
    static func clampedInt64(_ value: Double) -> Int64 {
        guard value.isFinite, value > 0 else { return value == .infinity ? .max : 0 }
        // 2^63 is the first Double past Int64.max; every Double below it converts exactly.
        return value >= 9_223_372_036_854_775_808 ? .max : Int64(value)
    }

    /// Whole seconds until `remaining` bytes arrive at `rate` bytes a second; nil when nothing
    /// arrives or it would take longer than `longestETA` (a figure nobody can use).
    static func secondsLeft(remaining: Int64, rate: Double) -> Int? {
        guard remaining > 0, rate.isFinite, rate > 0 else { return nil }
        let seconds = (Double(remaining) / rate).rounded(.up)
        guard seconds.isFinite, seconds <= Double(longestETA) else { return nil }
        return Int(seconds)
    }

    /// 100 days.
    static let longestETA = 100 * 86_400

    /// `ETA 1:05:09` (hours when there are any, else `m:ss`), or nil (see `secondsLeft`).
    static func eta(remaining: Int64, rate: Double) -> String? {
        guard let seconds = secondsLeft(remaining: remaining, rate: rate) else { return nil }
        let hours = seconds / 3600, minutes = seconds / 60 % 60, rest = seconds % 60
        let mmss = "\(minutes < 10 && hours > 0 ? "0" : "")\(minutes):\(rest < 10 ? "0" : "")\(rest)"
        return hours > 0 ? "ETA \(hours):\(mmss)" : "ETA \(mmss)"
    }

    /// A rate as `12.3 MiB/s`.
    static func rate(_ bytesPerSecond: Double) -> String {
        "\(ByteSize.format(clampedInt64(bytesPerSecond)))/s"
    }
}
