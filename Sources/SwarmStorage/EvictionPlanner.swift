import SwarmMetainfo

/// Chooses the verified pieces to evict when a cache has a size limit (`--cache-size`): least
/// recently used first, never a protected piece (one under an active read or readahead window).
/// Pure data, no I/O: the session owns one, touches pieces as it serves and writes them, and
/// hands the victims to `Checkpointer.evict` on its thread pool.
public struct EvictionPlanner: Sendable {
    /// The disk use (allocated bytes) to stay under.
    public let limit: Int64
    /// Once over the limit, evict down to `limit - hysteresis` so eviction runs in batches
    /// rather than one piece per write.
    public let hysteresis: Int64
    private var lastUse: [UInt64]
    private var clock: UInt64 = 0

    /// A planner for `pieceCount` pieces. `hysteresis` defaults to 1/32 of the limit.
    public init(pieceCount: Int, limit: Int64, hysteresis: Int64? = nil) {
        self.limit = max(0, limit)
        self.hysteresis = max(0, hysteresis ?? self.limit / 32)
        self.lastUse = [UInt64](repeating: 0, count: max(0, pieceCount))
    }

    /// Marks a piece as just used (served to a reader, or written: a fresh piece is not cold).
    public mutating func touch(_ piece: Int) {
        clock &+= 1
        touch(piece, stamp: clock)
    }

    /// Marks a piece as used at `stamp`, a tick of a clock that several planners share (a library
    /// of torrents under one limit orders all their pieces on one clock).
    public mutating func touch(_ piece: Int, stamp: UInt64) {
        guard lastUse.indices.contains(piece) else { return }
        lastUse[piece] = stamp
    }

    /// The verified pieces that may be evicted, coldest first (ties by index), with when each was
    /// last used.
    public func candidates(verified: Bitfield, isProtected: (Int) -> Bool) -> [(piece: Int, stamp: UInt64)] {
        var result: [(piece: Int, stamp: UInt64)] = []
        for piece in verified.setIndices where piece < lastUse.count && !isProtected(piece) {
            result.append((piece, lastUse[piece]))
        }
        result.sort { $0.stamp != $1.stamp ? $0.stamp < $1.stamp : $0.piece < $1.piece }
        return result
    }

    /// Whether `bytes` more fit under the limit (background fill stops when this is false,
    /// instead of fetching pieces only to evict them).
    public func hasRoom(allocated: Int64, for bytes: Int64) -> Bool {
        allocated + bytes <= limit
    }

    /// The pieces to evict, coldest first, so that `allocated` drops to `limit - hysteresis`
    /// (counting each piece's full size; blocks shared with a neighbour stay, so the real gain
    /// can be slightly less). Empty while `allocated <= limit`. Protected pieces are never
    /// chosen, so the result may free less than needed when everything is in use.
    public func victims(allocated: Int64, verified: Bitfield, layout: FileLayout,
                        isProtected: (Int) -> Bool) -> [Int] {
        guard allocated > limit else { return [] }
        let target = max(0, limit - hysteresis)
        var remaining = allocated
        var chosen: [Int] = []
        for (piece, _) in candidates(verified: verified, isProtected: isProtected) where remaining > target {
            chosen.append(piece)
            remaining -= Int64(layout.pieceSize(piece))
        }
        return chosen
    }
}
