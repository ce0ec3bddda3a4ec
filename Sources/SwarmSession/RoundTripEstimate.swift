import NIOCore

/// A peer's round trip as our requests see it: the shortest time from sending a request to its
/// block arriving, over the last two `window`s (a block that waited behind others in the peer's
/// queue takes longer; the quickest one is the path's own delay plus one block's sending). The
/// kernel's TCP estimate would miss a peer behind a proxy or a slow disk; this one does not.
///
/// Invariant: `current` is the minimum of the samples since `windowStart`, `previous` that of the
/// window before; `value` is the smaller of the two (nil before the first sample).
struct RoundTripEstimate {
    static let window = TimeAmount.seconds(10)

    private var current: TimeAmount?
    private var previous: TimeAmount?
    private var windowStart: NIODeadline?

    /// The estimate; nil until a block arrived.
    var value: TimeAmount? {
        switch (current, previous) {
        case let (a?, b?): min(a, b)
        case let (a?, nil): a
        case let (nil, b?): b
        case (nil, nil): nil
        }
    }

    /// A block requested at `sentAt` arrived at `now`.
    mutating func sample(sentAt: NIODeadline, now: NIODeadline) {
        guard now >= sentAt else { return }
        let elapsed = now - sentAt
        if let start = windowStart, now - start >= Self.window {
            previous = current
            current = nil
            windowStart = now
        } else if windowStart == nil {
            windowStart = now
        }
        current = current.map { min($0, elapsed) } ?? elapsed
    }
}
