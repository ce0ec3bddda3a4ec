import Dispatch
import Glibc
import SwarmMetainfo
import Synchronization

/// How far a re-check has come (reported from worker threads, at most once per piece).
public struct RecheckProgress: Sendable {
    /// Pieces decided so far (trusted from the record, hashed, or skipped as absent).
    public var piecesDone: Int
    /// Pieces of the torrent.
    public var piecesTotal: Int
    /// Pieces found verified so far.
    public var piecesVerified: Int
    /// Bytes read and hashed so far.
    public var bytesHashed: Int64
}

/// What a re-check found.
public struct RecheckResult: Sendable {
    /// Pieces whose data on disk is verified.
    public var verified: Bitfield
    /// How many of those were trusted from the resume record without hashing.
    public var trustedFromRecord: Int
    /// How many pieces were read and hashed.
    public var piecesHashed: Int
    /// Bytes read and hashed.
    public var bytesHashed: Int64
}

/// Decides what is trustworthy at start: the record's pieces whose files still have the recorded
/// size and mtime; everything else that exists on disk is hashed (so data downloaded by any client
/// is adopted). Runs `threads` workers; each reads pieces through a 64 KiB buffer
/// (`PieceStore.storedPieceMatches`), so memory does not grow with the piece length.
public func recheck(store: PieceStore, metainfo: Metainfo, record: ResumeRecord?,
                    threads: Int = Recheck.defaultThreads,
                    progress: (@Sendable (RecheckProgress) -> Void)? = nil) throws(StorageError) -> Bitfield {
    try Recheck.run(store: store, metainfo: metainfo, record: record, threads: threads, progress: progress).verified
}

/// The re-check engine behind `recheck(store:metainfo:record:)`.
public enum Recheck {
    /// One worker per online CPU.
    public static var defaultThreads: Int {
        max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    /// Runs a re-check and reports how each piece was decided.
    /// - Parameter trustRecord: false hashes every present piece even if the record claims it.
    public static func run(store: PieceStore, metainfo: Metainfo, record: ResumeRecord?,
                           threads: Int = defaultThreads, trustRecord: Bool = true,
                           progress: (@Sendable (RecheckProgress) -> Void)? = nil) throws(StorageError) -> RecheckResult {
        let layout = store.layout
        let total = layout.pieceCount
        let trusted: Bitfield = (trustRecord ? record?.trustedPieces(store: store) : nil) ?? Bitfield(count: total)
        var candidates: [Int] = []
        var trustedCount = 0
        for piece in 0..<total {
            if trusted[piece] { trustedCount += 1 } else { candidates.append(piece) }
        }
        let shared = Shared(candidates: candidates, total: total, alreadyDone: trustedCount, layout: layout,
                            fileLengths: candidates.isEmpty ? [] : store.storedFileLengths())
        let workers = max(1, min(threads, candidates.count))
        if !candidates.isEmpty {
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                hashLoop(store: store, metainfo: metainfo, shared: shared, progress: progress)
            }
        }
        var verified = trusted
        for piece in shared.verifiedPieces() { verified[piece] = true }
        return RecheckResult(verified: verified, trustedFromRecord: trustedCount,
                             piecesHashed: shared.hashed.load(ordering: .relaxed),
                             bytesHashed: Int64(shared.bytes.load(ordering: .relaxed)))
    }

    /// State the workers share: a cursor into the candidates, counters, and the result list.
    private final class Shared: Sendable {
        let candidates: [Int]
        let total: Int
        let next = Atomic<Int>(0)
        let done: Atomic<Int>
        let found: Atomic<Int>
        let hashed = Atomic<Int>(0)
        let bytes = Atomic<Int>(0)
        private let results = Mutex<[Int]>([])
        /// SHA-1 of an all-zero piece of each size the torrent has (a full one and the last).
        let zeroDigests: [Int: [UInt8]]
        /// Each file's length on disk when the check began (nil: absent).
        let fileLengths: [Int64?]

        init(candidates: [Int], total: Int, alreadyDone: Int, layout: FileLayout, fileLengths: [Int64?]) {
            self.candidates = candidates
            self.fileLengths = fileLengths
            self.total = total
            self.done = Atomic(alreadyDone)
            self.found = Atomic(alreadyDone)
            var digests: [Int: [UInt8]] = [:]
            if total > 0 {
                for size in [layout.pieceSize(0), layout.pieceSize(total - 1)] where digests[size] == nil {
                    digests[size] = PieceHasher.sha1OfZeros(count: size)
                }
            }
            zeroDigests = digests
        }

        func add(_ pieces: [Int]) {
            results.withLock { $0 += pieces }
        }

        func verifiedPieces() -> [Int] {
            results.withLock { $0 }
        }
    }

    private static func hashLoop(store: PieceStore, metainfo: Metainfo, shared: Shared,
                                 progress: (@Sendable (RecheckProgress) -> Void)?) {
        var mine: [Int] = []
        while true {
            let index = shared.next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard index < shared.candidates.count else { break }
            let piece = shared.candidates[index]
            if check(piece: piece, store: store, metainfo: metainfo, shared: shared) {
                mine.append(piece)
                shared.found.wrappingAdd(1, ordering: .relaxed)
            }
            let done = shared.done.wrappingAdd(1, ordering: .relaxed).newValue
            progress?(RecheckProgress(piecesDone: done, piecesTotal: shared.total,
                                      piecesVerified: shared.found.load(ordering: .relaxed),
                                      bytesHashed: Int64(shared.bytes.load(ordering: .relaxed))))
        }
        shared.add(mine)
    }

    /// Hashes one piece if it can be on disk at all. A piece that is entirely holes is not read:
    /// it verifies only if its hash is that of zeros (rare, but a sparse copy of zeros is valid).
    private static func check(piece: Int, store: PieceStore, metainfo: Metainfo, shared: Shared) -> Bool {
        guard store.isPresent(piece: piece, fileLengths: shared.fileLengths) else { return false }
        let size = store.layout.pieceSize(piece)
        let expected = metainfo.pieceHash(piece)
        if !store.hasAllocatedData(piece: piece) {
            return shared.zeroDigests[size].map { $0[...] == expected } ?? false
        }
        let matches: Bool
        do {
            matches = try store.storedPieceMatches(piece, expected: expected)
        } catch {
            return false
        }
        shared.hashed.wrappingAdd(1, ordering: .relaxed)
        shared.bytes.wrappingAdd(size, ordering: .relaxed)
        return matches
    }
}
