/// LEDBAT (RFC 6817, as BEP 29 applies it) plus slow start: how many bytes a uTP connection
/// may have in flight. The one-way delay of our packets, as the peer reports it in each packet's
/// timestamp difference, minus the lowest such delay seen lately (the base delay: the path with
/// empty queues) is the queueing delay we cause. Below the 100 ms target the window grows, above
/// it the window shrinks, so a uTP download yields to the user's other traffic (TCP's queues
/// fill, our delay rises, we back off) rather than fighting it. Pure: times are microseconds
/// from the owner's clock.
///
/// Invariants: `minimumWindow <= window <= maximumWindow`; the base delay is the minimum of
/// at most `historyLength` one-minute minima, so a clock drift or a route change ages out.
public struct UTPCongestion: Sendable {
    /// LEDBAT's target queueing delay.
    public static let targetDelay: Int64 = 100_000
    /// The most the window grows per round trip when there is no queueing delay at all (libutp's
    /// and libtorrent's 3000 bytes).
    public static let maxGainPerRoundTrip: Int64 = 3000
    static let historyLength = 3
    static let historyInterval: UInt64 = 60_000_000

    public let minimumWindow: Int
    public let maximumWindow: Int
    /// Bytes the connection may have in flight.
    public private(set) var window: Int
    /// Doubling each round trip until a loss, the delay target, or `slowStartThreshold`.
    public private(set) var slowStart = true
    private var slowStartThreshold: Int
    /// One-minute minima of the reported delay, newest last.
    private var delayHistory: [UInt32] = []
    private var historyStartedAt: UInt64 = 0
    /// The last queueing delay measured (microseconds), for figures.
    public private(set) var queueingDelay: Int64 = 0

    public init(packetSize: Int, maximumWindow: Int) {
        minimumWindow = 2 * packetSize
        self.maximumWindow = max(maximumWindow, minimumWindow)
        window = min(max(4 * packetSize, minimumWindow), self.maximumWindow)
        slowStartThreshold = self.maximumWindow
    }

    /// The peer reported `delay` (its receive time minus our send timestamp, microseconds: only
    /// differences matter) for a packet sent at `now`.
    public mutating func delaySample(_ delay: UInt32, now: UInt64) {
        if delayHistory.isEmpty || now &- historyStartedAt >= Self.historyInterval {
            delayHistory.append(delay)
            if delayHistory.count > Self.historyLength { delayHistory.removeFirst() }
            historyStartedAt = now
        } else {
            // Compare as wrapping differences: the peer's clock wraps every 71 minutes.
            let last = delayHistory.count - 1
            if Int32(bitPattern: delay &- delayHistory[last]) < 0 { delayHistory[last] = delay }
        }
        var base = delayHistory[0]
        for value in delayHistory.dropFirst() where Int32(bitPattern: value &- base) < 0 { base = value }
        // Bounded: the figure comes from the peer, and a hostile one must not overflow the
        // window arithmetic (at most 10 s of queue is believed).
        queueingDelay = min(max(Int64(Int32(bitPattern: delay &- base)), 0), 100 * Self.targetDelay)
    }

    /// `bytes` were acked; `windowWasFull` says the sender was limited by the window (growing an
    /// unused window would only allow a burst later).
    public mutating func acked(bytes: Int, windowWasFull: Bool) {
        guard bytes > 0, windowWasFull else { return }
        let offTarget = Self.targetDelay - queueingDelay
        if slowStart {
            if queueingDelay > Self.targetDelay / 2 || window >= slowStartThreshold {
                slowStart = false
            } else {
                window = min(window + bytes, maximumWindow)
                return
            }
        }
        // window += gain * (off_target / target) * (bytes / window): one `maxGain` per window.
        let gain = Self.maxGainPerRoundTrip * offTarget * Int64(min(bytes, window)) / (Self.targetDelay * Int64(max(window, 1)))
        window = Int(max(Int64(minimumWindow), min(Int64(maximumWindow), Int64(window) + gain)))
    }

    /// A packet was lost (three later packets acked): halve, once per window.
    public mutating func lost() {
        slowStart = false
        window = max(minimumWindow, window / 2)
        slowStartThreshold = window
    }

    /// Nothing was acked for a whole retransmission timeout: start over from the minimum.
    public mutating func timedOut() {
        slowStartThreshold = max(minimumWindow, window / 2)
        slowStart = true
        window = minimumWindow
    }
}

/// Round-trip time and retransmission timeout (RFC 6298's smoothing), in microseconds.
public struct UTPRoundTrip: Sendable {
    /// Before any sample.
    public static let initialTimeout: UInt64 = 1_000_000
    public static let minimumTimeout: UInt64 = 500_000
    public static let maximumTimeout: UInt64 = 30_000_000

    public private(set) var smoothed: UInt64 = 0
    public private(set) var variation: UInt64 = 0
    private var hasSample = false

    public init() {}

    public mutating func sample(_ rtt: UInt64) {
        let rtt = min(rtt, Self.maximumTimeout)
        if !hasSample {
            hasSample = true
            smoothed = rtt
            variation = rtt / 2
        } else {
            let delta = smoothed > rtt ? smoothed - rtt : rtt - smoothed
            variation = (3 * variation + delta) / 4
            smoothed = (7 * smoothed + rtt) / 8
        }
    }

    /// How long an unacked packet waits before it is sent again.
    public var timeout: UInt64 {
        guard hasSample else { return Self.initialTimeout }
        return min(Self.maximumTimeout, max(Self.minimumTimeout, smoothed + 4 * variation))
    }
}
