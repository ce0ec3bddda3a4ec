import NIOCore

/// Slow start for the request pipeline to one peer, as TCP has for its window: while it runs,
/// each block that arrives lets one more request out, so the depth doubles every round trip.
/// The depth the scheduler keeps afterwards follows the peer's measured rate
/// (`RequestScheduler.queueSeconds`), which climbs only as fast as a rate averaged over ticks
/// does: on a peer 100 ms away that took 2.5-3.5 s to reach a 4 MiB/s cap.
///
/// It ends, for good, at the first block that took a quarter longer than the peer's quickest
/// round trip (plus `tolerance`): requests have begun to wait at the peer. A burst of requests
/// sent together delays its own last blocks too, so it may end before the pipe is full; the
/// rate-based depth climbs on from there. Ending at twice the quickest round trip, as TCP's
/// overshoot would, gave 1% more throughput at 40 and 100 ms one way but seeks a third slower
/// (the pipes stayed deep while a player started): what is queued at a peer cannot be
/// cancelled.
///
/// Invariant: `depth` only grows, only while `isRunning` and the pipe is full, to at most
/// `RequestScheduler.maxPipelineDepth`; once over, slow start stays over.
struct PipelineSlowStart {
    /// Slow start begins at the scheduler's floor.
    static let initialDepth = RequestScheduler.minimumDepth
    /// A block slower than 5/4 of the quickest round trip plus this ends slow start.
    static let tolerance = TimeAmount.milliseconds(5)

    private(set) var depth = initialDepth
    private(set) var isRunning = true

    /// A block asked for `elapsed` ago arrived; `quickest` is the peer's shortest round trip so
    /// far (this block's included). `pipeFull`: at least half the pipeline was in flight. A
    /// pipe that the reads do not fill says nothing of what the path holds, and grows nothing
    /// (as TCP keeps an idle window from growing), or a peer asked for little for long would
    /// reach the deepest pipeline on the first burst. Returns whether the depth grew.
    mutating func blockArrived(elapsed: TimeAmount, quickest: TimeAmount, pipeFull: Bool) -> Bool {
        guard isRunning else { return false }
        guard elapsed.nanoseconds <= quickest.nanoseconds + quickest.nanoseconds / 4 + Self.tolerance.nanoseconds else {
            isRunning = false
            return false
        }
        guard pipeFull else { return false }
        depth = min(depth + 1, RequestScheduler.maxPipelineDepth)
        return true
    }
}
