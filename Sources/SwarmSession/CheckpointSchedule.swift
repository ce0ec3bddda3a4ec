import Logging
import NIOCore
import NIOPosix
import SwarmStorage

/// When the resume record is saved: periodically while pieces are verified (and once more to
/// sync what a checkpoint claimed without syncing), and when forced (completion, shutdown).
/// Owned by the Foreman and confined to its loop; the saving itself runs on the pool.
///
/// Invariants: at most one checkpoint runs at a time (`running`); one asked for meanwhile is
/// skipped, and the next periodic one catches up. A record saved without syncing leaves
/// `syncPending` set until a periodic checkpoint syncs.
final class CheckpointSchedule {
    private let checkpointer: Checkpointer
    private let threadPool: NIOThreadPool
    private let eventLoop: EventLoop
    private let logger: Logger
    private let directory: String
    private let interval: TimeAmount
    private let clock: any ForemanClock
    private var last: NIODeadline
    private var verifiedSinceLast = 0
    /// The checkpoint being saved, if any.
    private(set) var running: EventLoopFuture<Void>?
    /// The last record claims unsynced pieces: the next periodic checkpoint syncs them.
    private var syncPending = false

    init(checkpointer: Checkpointer, threadPool: NIOThreadPool, eventLoop: EventLoop, logger: Logger,
         configuration: SessionConfiguration, clock: any ForemanClock) {
        self.checkpointer = checkpointer
        self.threadPool = threadPool
        self.eventLoop = eventLoop
        self.logger = logger
        directory = configuration.cacheDirectory
        interval = TimeAmount.nanoseconds(Int64(configuration.checkpointInterval.components.seconds) * 1_000_000_000)
        self.clock = clock
        last = clock.now
    }

    func pieceVerified() {
        verifiedSinceLast += 1
    }

    /// Whether the periodic checkpoint is due.
    func isDue(now: NIODeadline) -> Bool {
        now - last > interval
    }

    /// Nothing to save and nothing being saved (an idle torrent may tick slowly).
    var isQuiet: Bool {
        running == nil && verifiedSinceLast == 0
    }

    /// Makes verified pieces durable, then records them; the record never claims more than was
    /// synced, because the bitfield is taken before the sync starts. With `syncData: false` the
    /// record claims the unsynced pieces for this boot only (`Checkpointer`), and the next
    /// periodic checkpoint syncs them.
    @discardableResult
    func save(force: Bool, syncData: Bool) -> EventLoopFuture<Void> {
        last = clock.now
        guard force || verifiedSinceLast > 0 || syncPending, running == nil else {
            return eventLoop.makeSucceededVoidFuture()
        }
        verifiedSinceLast = 0
        syncPending = !syncData
        let checkpointer = self.checkpointer
        let directory = self.directory
        let logger = self.logger
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let saved = threadPool.runIfActive(eventLoop: eventLoop) {
            do {
                try checkpointer.checkpoint(force: force, syncData: syncData)
            } catch {
                logger.error("cannot save resume state", metadata: ["directory": "\(directory)", "error": "\(error)"])
            }
        }
        running = saved
        saved.whenComplete { _ in bound.value.running = nil }
        return saved
    }
}
