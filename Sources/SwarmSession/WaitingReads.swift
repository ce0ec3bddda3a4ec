/// The Foreman's book of reads that wait for pieces, by read id (the one the session gave the
/// read, kept from the filesystem's ticket to the reply) and by the pieces they still miss.
///
/// Invariants:
/// - Every id under a piece in `idsByPiece` is a key of `waiting`, and that read still misses
///   the piece; a read is listed under exactly its `missing` pieces. Every way out of `waiting`
///   (`remove`, `handToJob`, `pieceVerified`) cleans the index, so it never keeps ids of reads
///   that timed out, were cancelled or were answered.
/// - An id is in at most one of `waiting`, `inJobs` (handed to the job of its last piece) and
///   `beingServed` (verified, its reply under way on the thread pool).
/// - A cancel that arrives while the read is in a job or being served is remembered there and
///   honoured if the read comes back to wait (the piece failed, or it was evicted meanwhile).
///
/// Confined to the Foreman's event loop, like the Foreman.
struct WaitingReads {
    private(set) var waiting: [UInt64: ReadWaiter] = [:]
    private var idsByPiece: [Int: [UInt64]] = [:]
    private var inJobs: [UInt64: (waiter: ReadWaiter, cancelled: Bool)] = [:]
    /// Reads whose pieces were verified and whose reply runs on the pool; the value says
    /// whether the reader cancelled meanwhile.
    private var beingServed: [UInt64: Bool] = [:]

    var count: Int { waiting.count }
    var ids: [UInt64] { Array(waiting.keys) }
    /// How many pieces have at least one read waiting for them (for tests and status).
    var indexedPieceCount: Int { idsByPiece.count }

    subscript(id: UInt64) -> ReadWaiter? { waiting[id] }

    /// The reads waiting for `piece`.
    func ids(waitingFor piece: Int) -> [UInt64] { idsByPiece[piece] ?? [] }

    /// Registers a read that misses `missing` (pieces of `waiter.pieces`).
    mutating func add(_ waiter: ReadWaiter, id: UInt64, missing: some Sequence<Int>) {
        waiting[id] = waiter
        for piece in missing { idsByPiece[piece, default: []].append(id) }
    }

    /// Takes a read out, by whatever path it leaves (answered, failed, timed out, cancelled).
    mutating func remove(_ id: UInt64) -> ReadWaiter? {
        guard let waiter = waiting.removeValue(forKey: id) else { return nil }
        unindex(id, pieces: waiter.pieces)
        return waiter
    }

    /// `piece` is verified: the reads that now miss nothing stay registered, to be resolved.
    mutating func pieceVerified(_ piece: Int) -> [UInt64] {
        guard let ids = idsByPiece.removeValue(forKey: piece) else { return [] }
        var complete: [UInt64] = []
        for id in ids {
            guard var waiter = waiting[id] else { continue }
            waiter.missing -= 1
            waiting[id] = waiter
            if waiter.missing <= 0 { complete.append(id) }
        }
        return complete
    }

    /// Hands the reads for which `piece` is the last missing one to the piece's job.
    mutating func handToJob(completedBy piece: Int) -> [(id: UInt64, waiter: ReadWaiter)] {
        guard let ids = idsByPiece[piece] else { return [] }
        var handed: [(id: UInt64, waiter: ReadWaiter)] = []
        var rest: [UInt64] = []
        for id in ids {
            guard let waiter = waiting[id] else { continue }
            guard waiter.missing == 1 else {
                rest.append(id)
                continue
            }
            waiting[id] = nil
            inJobs[id] = (waiter, false)
            handed.append((id, waiter))
        }
        idsByPiece[piece] = rest.isEmpty ? nil : rest
        return handed
    }

    /// The job of `piece` is done with read `id`: gone if `served`, otherwise waiting again for
    /// the piece. Returns the read and whether its reader cancelled while it was in the job.
    mutating func jobFinished(_ id: UInt64, piece: Int, served: Bool) -> (waiter: ReadWaiter, cancelled: Bool)? {
        guard let entry = inJobs.removeValue(forKey: id) else { return nil }
        if !served { add(entry.waiter, id: id, missing: CollectionOfOne(piece)) }
        return entry
    }

    /// Read `id` was verified and its reply goes out from the pool.
    mutating func beginServing(_ id: UInt64) {
        beingServed[id] = false
    }

    /// The reply of `id` went out, or the read is back to wait (its pieces were evicted before
    /// the reply could pin them). True if the reader cancelled meanwhile.
    mutating func endServing(_ id: UInt64) -> Bool {
        beingServed.removeValue(forKey: id) ?? false
    }

    /// The reader cancelled `id`. True if the read is waiting (the caller fails it now); a read
    /// in a job or being served is marked, and fails if it comes back to wait.
    mutating func cancel(_ id: UInt64) -> Bool {
        if inJobs[id] != nil {
            inJobs[id]?.cancelled = true
            return false
        }
        if beingServed[id] != nil {
            beingServed[id] = true
            return false
        }
        return waiting[id] != nil
    }

    private mutating func unindex(_ id: UInt64, pieces: Range<Int>) {
        for piece in pieces {
            guard var ids = idsByPiece[piece], let index = ids.firstIndex(of: id) else { continue }
            ids.remove(at: index)
            idsByPiece[piece] = ids.isEmpty ? nil : ids
        }
    }
}
