import SwarmMetainfo
import SwarmPieces
import SwarmStorage

/// One torrent's part of the engine's `--cache-size` (`CacheSpace`): the bytes of its verified
/// pieces, the pieces it is evicting and their bytes, when each piece was last used, and the
/// size-limit policy for its picker (readahead cap, pieces in flight, background fill). The one
/// keeper of these books: `CacheSpace` holds only their sums across torrents, as reported from
/// here, and decides across torrents what goes; the Foreman runs the eviction on the pool.
///
/// Owned by the Foreman and confined to its loop.
///
/// Invariants:
/// - `verifiedBytes` is the size of the pieces readers may read (verified and not withdrawn for
///   eviction); `evictingBytes` is the size of exactly the pieces in `evicting`.
/// - A piece is counted in at most one of `verifiedBytes` and `evicting`.
/// - At most one eviction of this torrent runs at a time (`isEvicting`).
/// - While joined, `space` knows both byte counts as they are now: every change is reported
///   before the method that made it returns.
final class CacheShare {
    private let space: CacheSpace
    private let layout: FileLayout
    /// Our key in `space` (0: not joined, or left; reports are then ignored by the space).
    private var key = 0
    private(set) var verifiedBytes: Int64 = 0
    /// Bytes of the pieces in `evicting`: still on disk until their holes are punched.
    private(set) var evictingBytes: Int64 = 0
    /// Pieces withdrawn from readers whose holes are being punched: not fetched again until done.
    private var evicting: Set<Int> = []
    private(set) var isEvicting = false
    /// When each piece was last used, on the space's clock (only the order counts: the limit and
    /// what to evict are the space's).
    private var uses: EvictionPlanner

    init(space: CacheSpace, layout: FileLayout, have: Bitfield) {
        self.space = space
        self.layout = layout
        uses = EvictionPlanner(pieceCount: layout.pieceCount, limit: .max)
        for piece in 0..<layout.pieceCount where have[piece] {
            verifiedBytes += Int64(layout.pieceSize(piece))
        }
    }

    /// The engine's limit, for all its torrents (nil: none).
    var limit: Int64? { space.limit }

    /// How far a reader's readahead window may reach: under a size limit it must fit well inside
    /// it (a quarter), or it would pin the whole cache.
    var readaheadCap: Int64 {
        limit.map { max(Int64(layout.pieceLength), $0 / 4) } ?? ReadaheadWindow.maximumLength
    }

    /// Pieces in flight a size limit allows (a quarter of the limit), whatever the memory budget
    /// allows: they count against the limit once stored.
    var piecesInFlightCap: Int {
        limit.map { max(4, Int($0 / 4) / max(1, layout.pieceLength)) } ?? .max
    }

    /// Starts counting against the space (the Foreman starts).
    func join(as member: any CacheSpaceMember) {
        key = space.register(member)
        report()
    }

    /// Stops counting against the space (the Foreman stops).
    func leave() {
        space.unregister(key)
        key = 0
    }

    /// A reader read these pieces: they are warm again.
    func used(_ pieces: Range<Int>) {
        for piece in pieces { uses.touch(piece, stamp: space.nextStamp()) }
    }

    /// A piece was verified and stored: counted, and warm (a fresh piece is not cold).
    func pieceVerified(_ piece: Int) {
        verifiedBytes += Int64(layout.pieceSize(piece))
        uses.touch(piece, stamp: space.nextStamp())
        report()
    }

    func isBeingEvicted(_ piece: Int) -> Bool {
        evicting.contains(piece)
    }

    /// With a size limit, background fill runs only while the cache (all the engine's torrents)
    /// is below 90 % of it, so that evicting and re-fetching never chase each other. While an
    /// eviction runs anywhere, no piece starts past the limit plus one readahead window (a
    /// quarter of it): pieces kept arriving at network speed while the holes were being punched,
    /// and the cache overshot its limit by all of them. The ceiling is ours: what we hold plus
    /// the room the other torrents leave.
    func steer(_ picker: inout PiecePicker, downloadAll: Bool) {
        if let limit {
            let ours = verifiedBytes + evictingBytes
            let others = space.verifiedBytes + space.evictingBytes - ours
            picker.storedBytes = ours
            picker.storedBytesCeiling = space.isEvicting
                ? max(0, limit + max(Int64(layout.pieceLength), limit / 4) - others) : nil
        }
        guard downloadAll else { return }
        if let limit {
            let committed = space.verifiedBytes + Int64(picker.piecesInProgress) * Int64(layout.pieceLength)
            picker.backgroundEnabled = committed < limit - limit / 10
        } else {
            picker.backgroundEnabled = true
        }
    }

    /// Asks the space to evict the coldest pieces of all its torrents if they hold too much.
    func enforce() {
        guard limit != nil else { return }
        space.enforce()
    }

    /// Our verified pieces that may go now, coldest first: none while our eviction runs, never
    /// one being evicted already nor one `isProtected` names (read or read ahead).
    func candidates(have: Bitfield, isProtected: (Int) -> Bool) -> [(piece: Int, stamp: UInt64, bytes: Int64)] {
        guard !isEvicting else { return [] }
        return uses.candidates(verified: have) { piece in
            evicting.contains(piece) || isProtected(piece)
        }.map { ($0.piece, $0.stamp, Int64(layout.pieceSize($0.piece))) }
    }

    /// Starts evicting those of `pieces` that `withdraw` takes from readers (a piece being
    /// replied from right now refuses and stays): they count as evicting from now on. Returns
    /// them, or nil if none went (or an eviction runs already).
    func beginEviction(of pieces: [Int], withdraw: (Int) -> Bool) -> [Int]? {
        guard !isEvicting else { return nil }
        var victims: [Int] = []
        for piece in pieces where !evicting.contains(piece) {
            guard withdraw(piece) else { continue }
            let bytes = Int64(layout.pieceSize(piece))
            verifiedBytes -= bytes
            evictingBytes += bytes
            victims.append(piece)
        }
        guard !victims.isEmpty else { return nil }
        isEvicting = true
        evicting.formUnion(victims)
        report()
        return victims
    }

    /// The holes of `victims` are punched: they are ordinary missing pieces again, and the space
    /// may plan its next eviction.
    func evictionFinished(_ victims: [Int]) {
        isEvicting = false
        for piece in victims {
            evicting.remove(piece)
            evictingBytes -= Int64(layout.pieceSize(piece))
        }
        report()
        space.evictionFinished()
    }

    private func report() {
        space.report(key, verified: verifiedBytes, evicting: evictingBytes)
    }
}
