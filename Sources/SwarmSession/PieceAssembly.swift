import NIOCore
import NIOPosix
import SwarmContent
import SwarmMetainfo
import SwarmPieces
import SwarmStorage

/// Pieces between their first block and their verdict: their blocks are copied into pooled
/// buffers as they arrive, and a complete piece goes to a `PieceJob` on the thread pool (hash,
/// answer the reads that waited for it alone, write, mark verified), whose outcome the Foreman
/// acts on. Owned by the Foreman and confined to its loop.
///
/// Invariants:
/// - A piece is in `assembling` from its first accepted block until its last; then it is in a
///   job until the job reports, never in both. The picker decides which blocks are accepted, so
///   a piece is assembled at most once at a time.
/// - `jobsInFlight` counts jobs started and not yet reported; each job's buffer goes back to the
///   pool exactly once, when it reports.
/// - Once `drained()` was asked for, its future succeeds when `jobsInFlight` reaches zero.
final class PieceAssembly {
    private unowned let foreman: Foreman
    private let bufferPool: PieceBufferPool
    private var assembling: [Int: (buffer: PieceBuffer, senders: Set<PeerKey>)] = [:]
    private(set) var jobsInFlight = 0
    private var drainPromise: EventLoopPromise<Void>?

    init(foreman: Foreman, pieceLength: Int, keepAtMost: Int) {
        self.foreman = foreman
        bufferPool = PieceBufferPool(bufferSize: max(1, pieceLength), keepAtMost: keepAtMost)
    }

    /// Copies an accepted block into its piece's buffer. Returns the piece's buffer and who sent
    /// its blocks when this block completed it (the piece then leaves `assembling`).
    func add(_ block: ByteBuffer, piece: Int, begin: Int, from sender: PeerKey,
             completes: Bool) -> (buffer: PieceBuffer, senders: Set<PeerKey>)? {
        var entry = assembling[piece] ?? (buffer: bufferPool.take(), senders: [])
        block.withUnsafeReadableBytes { entry.buffer.copyIn($0, at: begin) }
        entry.senders.insert(sender)
        if completes {
            assembling[piece] = nil
            return entry
        }
        assembling[piece] = entry
        return nil
    }

    /// Hashes the piece on the thread pool and, if it matches, writes it to the cache and answers
    /// `reads` (those waiting for it alone) from the pool; then reports to the Foreman.
    func verifyAndStore(piece: Int, buffer: PieceBuffer, senders: Set<PeerKey>, reads: [PieceJobRead]) {
        jobsInFlight += 1
        let layout = foreman.layout
        let job = PieceJob(piece: piece, size: layout.pieceSize(piece), expected: foreman.metainfo.pieceHash(piece),
                           pieceStart: layout.pieceOffset(piece),
                           reads: reads.map { ($0, layout.files[$0.fileIndex].offset) },
                           store: foreman.store, checkpointer: foreman.checkpointer, verified: foreman.verified)
        let eventLoop = foreman.eventLoop
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        foreman.threadPool.runIfActive(eventLoop: eventLoop) {
            job.run(on: buffer)
        }.whenComplete { result in
            let assembly = bound.value
            let outcome: PieceOutcome
            switch result {
            case let .success(reported):
                outcome = reported
            case let .failure(error):
                assembly.foreman.logger.error("piece job did not run", metadata: ["piece": "\(piece)", "error": "\(error)"])
                outcome = .storageFailed(.io(operation: "hash", path: "", piece: piece, errno: EIO), served: [])
            }
            assembly.jobsInFlight -= 1
            assembly.bufferPool.give(buffer)
            assembly.foreman.pieceChecked(piece, outcome: outcome, senders: senders, reads: reads)
            if assembly.jobsInFlight == 0, let promise = assembly.drainPromise {
                assembly.drainPromise = nil
                promise.succeed(())
            }
        }
    }

    /// Succeeds once no job is in flight (the Foreman stops and waits for pieces being stored).
    func drained() -> EventLoopFuture<Void> {
        guard jobsInFlight > 0 else { return foreman.eventLoop.makeSucceededVoidFuture() }
        let promise = drainPromise ?? foreman.eventLoop.makePromise(of: Void.self)
        drainPromise = promise
        return promise.futureResult
    }
}
