import NIOCore

/// Where the Foreman and its workers read the time. Timers still run on the event loop; what
/// they decide (a stalled peer, a read timed out, a handshake overdue) depends only on this
/// clock, so tests drive those decisions with a manual clock instead of waiting.
protocol ForemanClock: Sendable {
    var now: NIODeadline { get }
}

/// The monotonic clock of the machine (`NIODeadline.now()`).
struct SystemForemanClock: ForemanClock {
    var now: NIODeadline { .now() }
}
