/// A torrent whose verified pieces count against the engine's `--cache-size`.
protocol CacheSpaceMember: AnyObject {
    /// Its verified pieces that may be evicted now, coldest first, with their last-use stamps
    /// (from `CacheSpace.nextStamp`) and sizes.
    func evictionCandidates() -> [(piece: Int, stamp: UInt64, bytes: Int64)]
    /// Evicts these pieces (a piece being replied from refuses and stays). Returns whether an
    /// eviction started; if so the member calls `CacheSpace.evictionFinished` when it ends.
    func evict(_ pieces: [Int]) -> Bool
}

/// The engine's cache-size limit, one for all its torrents: when their verified pieces together
/// pass it, the least recently used pieces go, whichever torrent holds them.
///
/// Confined to the engine's event loop. Invariants: `verifiedBytes` and `evictingBytes` are the
/// sums of what members reported; at most one eviction plan runs at a time (`evictionsRunning` >
/// 0 until every member it asked has finished), so planning never chases its own holes. With one
/// torrent this is exactly the per-torrent policy swarmfs had before the engine: evict coldest
/// first down to 90 % of the limit.
final class CacheSpace {
    /// The limit for all torrents together (nil: none).
    let limit: Int64?
    /// Evicting goes down to `limit - hysteresis`, so it runs in batches.
    let hysteresis: Int64
    private var clock: UInt64 = 0
    private var members: [Int: (member: any CacheSpaceMember, verified: Int64, evicting: Int64)] = [:]
    private var nextKey = 0
    private(set) var verifiedBytes: Int64 = 0
    private(set) var evictingBytes: Int64 = 0
    private var evictionsRunning = 0

    init(limit: Int64?) {
        self.limit = limit.map { max(0, $0) }
        hysteresis = (limit ?? 0) / 10
    }

    /// Whether holes are being punched somewhere (new pieces then stay under a ceiling).
    var isEvicting: Bool { evictionsRunning > 0 }

    /// A tick of the clock that orders every torrent's piece uses.
    func nextStamp() -> UInt64 {
        clock &+= 1
        return clock
    }

    func register(_ member: any CacheSpaceMember) -> Int {
        nextKey &+= 1
        members[nextKey] = (member, 0, 0)
        return nextKey
    }

    func unregister(_ key: Int) {
        guard let gone = members.removeValue(forKey: key) else { return }
        verifiedBytes -= gone.verified
        evictingBytes -= gone.evicting
    }

    /// Records a member's verified bytes and bytes being evicted (still on disk).
    func report(_ key: Int, verified: Int64, evicting: Int64) {
        guard let old = members[key] else { return }
        members[key] = (old.member, verified, evicting)
        verifiedBytes += verified - old.verified
        evictingBytes += evicting - old.evicting
    }

    /// If the torrents hold more than the limit, evicts the coldest pieces across all of them
    /// down to `limit - hysteresis`.
    func enforce() {
        guard let limit, verifiedBytes > limit, evictionsRunning == 0 else { return }
        let target = max(0, limit - hysteresis)
        var all: [(stamp: UInt64, key: Int, piece: Int, bytes: Int64)] = []
        for (key, entry) in members {
            for candidate in entry.member.evictionCandidates() {
                all.append((candidate.stamp, key, candidate.piece, candidate.bytes))
            }
        }
        all.sort { ($0.stamp, $0.key, $0.piece) < ($1.stamp, $1.key, $1.piece) }
        var remaining = verifiedBytes
        var plan: [Int: [Int]] = [:]
        for candidate in all where remaining > target {
            plan[candidate.key, default: []].append(candidate.piece)
            remaining -= candidate.bytes
        }
        for (key, pieces) in plan.sorted(by: { $0.key < $1.key }) {
            guard let member = members[key]?.member else { continue }
            if member.evict(pieces) { evictionsRunning += 1 }
        }
    }

    /// A member's eviction ended (its holes are punched).
    func evictionFinished() {
        evictionsRunning = max(0, evictionsRunning - 1)
    }
}
