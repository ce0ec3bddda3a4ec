import NIOCore

/// Decides whether a warning about a source (a peer's host) is worth saying again: once per
/// `interval` per source; repeats in between are for the debug log. Bounded: past `capacity`
/// sources, the ones not warned about within `interval` are forgotten, and if all were, the
/// oldest-warned half is.
struct RepeatedWarnings {
    let interval: TimeAmount
    let capacity: Int
    private var lastWarned: [String: NIODeadline] = [:]

    init(interval: TimeAmount = .minutes(10), capacity: Int = 1_024) {
        self.interval = interval
        self.capacity = max(1, capacity)
    }

    /// True the first time `source` comes up, and again once `interval` has passed since.
    mutating func shouldWarn(about source: String, now: NIODeadline) -> Bool {
        if let last = lastWarned[source], now - last < interval { return false }
        if lastWarned.count >= capacity, lastWarned[source] == nil { forgetOld(now: now) }
        lastWarned[source] = now
        return true
    }

    private mutating func forgetOld(now: NIODeadline) {
        lastWarned = lastWarned.filter { now - $0.value < interval }
        guard lastWarned.count >= capacity else { return }
        let newest = lastWarned.sorted { $0.value > $1.value }.prefix(capacity / 2)
        lastWarned = Dictionary(uniqueKeysWithValues: newest.map { ($0.key, $0.value) })
    }
}
