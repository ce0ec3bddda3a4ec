@testable import SwarmSession
import Testing

/// One `--cache-size` for a library: the least recently used pieces go, whichever torrent holds them.
struct CacheSpaceTests {
    /// A torrent of equal pieces that evicts whatever it is asked to, at once.
    final class FakeTorrent: CacheSpaceMember {
        let pieceBytes: Int64
        var uses: [Int: UInt64] = [:]
        var protected: Set<Int> = []
        var evicted: [Int] = []
        var key = 0
        unowned let space: CacheSpace

        init(space: CacheSpace, pieceBytes: Int64) {
            self.space = space
            self.pieceBytes = pieceBytes
            key = space.register(self)
        }

        func use(_ piece: Int) {
            uses[piece] = space.nextStamp()
            space.report(key, verified: Int64(uses.count) * pieceBytes, evicting: 0)
        }

        func evictionCandidates() -> [(piece: Int, stamp: UInt64, bytes: Int64)] {
            uses.filter { !protected.contains($0.key) }.sorted { $0.value < $1.value }.map { ($0.key, $0.value, pieceBytes) }
        }

        func evict(_ pieces: [Int]) -> Bool {
            for piece in pieces { uses[piece] = nil }
            evicted += pieces
            space.report(key, verified: Int64(uses.count) * pieceBytes, evicting: 0)
            return true
        }
    }

    @Test func theColdestPiecesGoWhicheverTorrentHoldsThem() {
        let space = CacheSpace(limit: 1000)
        let movie = FakeTorrent(space: space, pieceBytes: 100)
        let series = FakeTorrent(space: space, pieceBytes: 100)
        for piece in 0..<5 { movie.use(piece) }       // stamps 1-5: the oldest
        for piece in 0..<5 { series.use(piece) }      // stamps 6-10
        movie.use(0)                                  // read again: now the newest
        space.enforce()
        #expect(movie.evicted.isEmpty && series.evicted.isEmpty, "at the limit, nothing goes")
        series.use(5)                                 // 1,100 bytes: over the limit
        space.enforce()
        // Down to 900 (limit - 10 %): two pieces, the least recently used of both torrents.
        #expect(movie.evicted == [1, 2])
        #expect(series.evicted.isEmpty)
        #expect(space.verifiedBytes == 900)
    }

    @Test func protectedPiecesStayAndOnePlanRunsAtATime() {
        let space = CacheSpace(limit: 500)
        let one = FakeTorrent(space: space, pieceBytes: 100)
        let two = FakeTorrent(space: space, pieceBytes: 100)
        for piece in 0..<3 { one.use(piece) }
        for piece in 0..<4 { two.use(piece) }
        one.protected = [0, 1, 2]                     // under a read or readahead window
        space.enforce()
        #expect(one.evicted.isEmpty)
        #expect(two.evicted == [0, 1, 2], "700 down to 400 (limit - 10 % is 450) from the other torrent")
        two.use(9)
        two.use(10)
        space.enforce()
        #expect(two.evicted.count == 3, "no second plan while the first one's holes are being punched")
        space.evictionFinished()
        space.enforce()
        // 600 down to 450: its coldest unprotected pieces, the one left from before and then 9.
        #expect(Array(two.evicted.dropFirst(3)) == [3, 9])
    }

    @Test func aStoppedTorrentNoLongerCounts() {
        let space = CacheSpace(limit: 300)
        let gone = FakeTorrent(space: space, pieceBytes: 100)
        let stays = FakeTorrent(space: space, pieceBytes: 100)
        for piece in 0..<3 { gone.use(piece) }
        stays.use(0)
        space.unregister(gone.key)
        space.enforce()
        #expect(stays.evicted.isEmpty)
        #expect(space.verifiedBytes == 100)
    }

    @Test func noLimitNeverEvicts() {
        let space = CacheSpace(limit: nil)
        let torrent = FakeTorrent(space: space, pieceBytes: 1 << 30)
        for piece in 0..<100 { torrent.use(piece) }
        space.enforce()
        #expect(torrent.evicted.isEmpty)
    }
}
