import Logging
import NIOCore
import SwarmContent
import SwarmPieces
import SwarmStorage

/// The reads of the filesystem: open readers and their readahead, and reads waiting for pieces,
/// handed to a piece's job, or being served. Owned by the Foreman and confined to its loop; the
/// Foreman decides when a read waits and what it waits for, the desk keeps the books and
/// answers reads.
///
/// Invariants:
/// - Every read id in `reads` is answered exactly once: by `resolve`, by `serve`, or by the
///   `PieceJob` it was handed to (`WaitingReads` knows which). Ids come from the session's one
///   counter (`TorrentSession.read`) and are kept from the filesystem's ticket to the reply,
///   also when a read goes back to wait.
/// - A waiting read is registered in the picker (`addWaitingRead`) from when it waits until it
///   is resolved or its job reports.
/// - Every answer runs on the thread pool, never on the loop.
/// - A reader in `readers` holds a pin on its file in the store, dropped when it closes.
final class ReadDesk {
    private unowned let foreman: Foreman
    /// Reads waiting for pieces, handed to a piece's job, or being served (see `WaitingReads`).
    private var reads = WaitingReads()
    private var readers: [ReaderID: ReaderState] = [:]
    /// When reads last gave up on each piece (`--read-timeout`); entries older than the timeout
    /// no longer count and are dropped as new ones come.
    private var timedOutAt: [Int: NIODeadline] = [:]

    init(foreman: Foreman) {
        self.foreman = foreman
    }

    // MARK: - Readers

    func openReader(_ reader: ReaderID, fileIndex: Int) {
        readers[reader] = ReaderState(fileIndex: fileIndex)
    }

    /// Forgets the reader; returns the file it read, nil if it was not open.
    func closeReader(_ reader: ReaderID) -> Int? {
        readers.removeValue(forKey: reader)?.fileIndex
    }

    /// Moves the reader's readahead window to follow a read; returns the pieces it now covers,
    /// at most `cap` bytes of them.
    func follow(_ reader: ReaderID, fileIndex: Int, offset: Int64, length: Int, cap: Int64) -> Range<Int>? {
        var state = readers[reader] ?? ReaderState(fileIndex: fileIndex)
        state.readahead.note(offset: offset, length: length)
        readers[reader] = state
        let (end, overflow) = offset.addingReportingOverflow(Int64(length))
        return overflow ? nil : state.readahead.pieces(after: end, file: fileIndex, in: foreman.layout, cap: cap)
    }

    // MARK: - The book

    /// How many reads wait for pieces.
    var waitingCount: Int { reads.count }

    /// The reads waiting for `piece`.
    func ids(waitingFor piece: Int) -> [UInt64] { reads.ids(waitingFor: piece) }

    // MARK: - Waiting

    /// Books read `id` as waiting for `missing` of `pieces`, with its `--read-timeout`. Returns
    /// false when the read failed at once instead (it timed out on these pieces a moment ago).
    func wait(id: UInt64, reader: ReaderID, fileIndex: Int, offset: Int64, length: Int, pieces: Range<Int>,
              missing: [Int], completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void) -> Bool {
        var waiter = ReadWaiter(reader: reader, fileIndex: fileIndex, offset: offset, length: length,
                                pieces: pieces, missing: missing.count, completion: completion, since: foreman.clock.now)
        if let timeout = foreman.configuration.readTimeout {
            let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
            let limit = TimeAmount.nanoseconds(Int64(seconds * 1e9))
            // The kernel retries a failed readahead page by page: a read of pieces that just
            // timed out, which still no connected peer has, fails now instead of waiting again.
            let now = foreman.clock.now
            if missing.allSatisfy({ piece in
                foreman.picker.availability(of: piece) == 0 && (timedOutAt[piece].map { now - $0 < limit } ?? false)
            }) {
                complete(completion, with: .failure(.timedOut(file: fileIndex, offset: offset, seconds: seconds)))
                return false
            }
            let bound = NIOLoopBound(self, eventLoop: foreman.eventLoop)
            waiter.timeout = foreman.eventLoop.scheduleTask(in: limit) {
                bound.value.readTimedOut(id, seconds: seconds)
            }
        }
        reads.add(waiter, id: id, missing: missing)
        return true
    }

    /// The pieces read `id` waits for, if it still waits.
    func pieces(of id: UInt64) -> Range<Int>? {
        reads[id]?.pieces
    }

    private func readTimedOut(_ id: UInt64, seconds: Double) {
        guard let waiter = reads[id] else { return }
        let now = foreman.clock.now
        let limit = TimeAmount.nanoseconds(Int64(seconds * 1e9))
        timedOutAt = timedOutAt.filter { now - $0.value < limit }
        for piece in waiter.pieces where !foreman.picker.hasPiece(piece) { timedOutAt[piece] = now }
        resolve(id, with: .failure(.timedOut(file: waiter.fileIndex, offset: waiter.offset, seconds: seconds)))
    }

    /// The reader gave up on read `id` (an interrupt, a killed reader): it fails with
    /// `.cancelled` now, or, if its reply is already under way, as soon as it would wait again.
    func cancel(_ id: UInt64) {
        if reads.cancel(id) { resolve(id, with: .failure(.cancelled)) }
    }

    /// Fails every read (the session stops, or storage failed).
    func failAll(with error: ContentReadError) {
        for id in reads.ids { resolve(id, with: .failure(error)) }
    }

    /// `piece` is verified: the reads it completes are answered.
    func pieceVerified(_ piece: Int) {
        for id in reads.pieceVerified(piece) {
            resolve(id, with: .success(ReadableSpan(fd: -1, offset: 0, length: 0)))
        }
    }

    private func logWait(_ waiter: ReadWaiter) {
        foreman.logger.debug("read waited for pieces", metadata: [
            "file": "\(waiter.fileIndex)", "offset": "\(waiter.offset)", "pieces": "\(waiter.pieces)",
            "ms": "\(Double((foreman.clock.now - waiter.since).nanoseconds) / 1e6)"])
    }

    // MARK: - Piece jobs

    /// Takes out the waiters for which `piece` is the last missing one, to be answered by the
    /// piece's own job the moment it is stored: a reader then waits for no hop back to this loop
    /// and out to the pool again. They stay registered in the picker until the job reports.
    func takeWaitersCompletedBy(_ piece: Int) -> [PieceJobRead] {
        reads.handToJob(completedBy: piece).map { id, waiter in
            PieceJobRead(id: id, fileIndex: waiter.fileIndex, offset: waiter.offset,
                         length: waiter.length, pieces: waiter.pieces, completion: waiter.completion)
        }
    }

    /// The job of `piece` has finished with the reads it was given: `served` were answered;
    /// the others wait again (the piece failed), or start over if the reader cancelled meanwhile.
    func settleJobReads(_ jobReads: [PieceJobRead], piece: Int, served: Set<UInt64>) {
        for read in jobReads {
            let wasServed = served.contains(read.id)
            guard let (waiter, cancelled) = reads.jobFinished(read.id, piece: piece, served: wasServed) else { continue }
            if wasServed {
                waiter.timeout?.cancel()
                foreman.picker.removeWaitingRead(pieces: waiter.pieces)
                logWait(waiter)
            } else {
                if foreman.stopped {
                    resolve(read.id, with: .failure(.shutdown))
                } else if cancelled {
                    resolve(read.id, with: .failure(.cancelled))
                }
            }
        }
    }

    // MARK: - Answering

    private func resolve(_ id: UInt64, with result: Result<ReadableSpan, ContentReadError>) {
        guard var waiter = reads.remove(id) else { return }
        waiter.timeout?.cancel()
        waiter.timeout = nil
        foreman.picker.removeWaitingRead(pieces: waiter.pieces)
        switch result {
        case .success:
            logWait(waiter)
            serve(id: id, reader: waiter.reader, fileIndex: waiter.fileIndex, offset: waiter.offset,
                  length: waiter.length, completion: waiter.completion)
        case .failure:
            complete(waiter.completion, with: result)
        }
    }

    /// Hands verified bytes to the reader from the thread pool (opening a file may block). If the
    /// pieces were evicted in the meantime the read waits for them again, under the same id, so
    /// that its ticket can still cancel it (and a cancel that came meanwhile is honoured).
    func serve(id: UInt64, reader: ReaderID, fileIndex: Int, offset: Int64, length: Int,
               completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void) {
        let store = foreman.store
        let verified = foreman.verified
        let pieces = foreman.layout.pieces(file: fileIndex, offset: offset, length: Int64(length))
        let bound = NIOLoopBound(self, eventLoop: foreman.eventLoop)
        let loop = foreman.eventLoop
        reads.beginServing(id)
        foreman.threadPool.submit { _ in
            guard verified.beginRead(pieces) else {
                loop.execute {
                    let desk = bound.value
                    if desk.reads.endServing(id) {
                        desk.complete(completion, with: .failure(.cancelled))
                    } else {
                        desk.foreman.addWaiter(id: id, reader: reader, fileIndex: fileIndex, offset: offset, length: length,
                                               completion: completion)
                    }
                }
                return
            }
            completion(Self.span(store: store, fileIndex: fileIndex, offset: offset, length: length))
            verified.endRead(pieces)
            loop.execute { _ = bound.value.reads.endServing(id) }
        }
    }

    /// Answers a read that never waited, from the pool like every answer.
    func complete(_ completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void,
                  with result: Result<ReadableSpan, ContentReadError>) {
        foreman.threadPool.submit { _ in completion(result) }
    }

    /// Where verified bytes of a file are in the cache.
    static func span(store: PieceStore, fileIndex: Int, offset: Int64, length: Int) -> Result<ReadableSpan, ContentReadError> {
        do {
            let fd = try store.fileDescriptor(forFile: fileIndex)
            return .success(ReadableSpan(fd: fd, offset: offset, length: length))
        } catch {
            return .failure(.storage(file: fileIndex, kind: error.readFailureKind, detail: "\(error)"))
        }
    }
}
