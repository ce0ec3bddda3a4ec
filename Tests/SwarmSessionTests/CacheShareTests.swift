import SwarmMetainfo
@testable import SwarmSession
import Testing

/// One torrent's --cache-size books: kept in one place and always known to the engine's space.
struct CacheShareTests {
    /// Stands in for the Foreman in the space; the share keeps the books, not the member.
    final class Member: CacheSpaceMember {
        func evictionCandidates() -> [(piece: Int, stamp: UInt64, bytes: Int64)] { [] }
        func evict(_ pieces: [Int]) -> Bool { false }
    }

    /// Ten pieces of 100 bytes, the last one of 50.
    let layout = FileLayout(pieceLength: 100, files: [(path: ["a"], length: 950, isPadding: false)])

    @Test func theBooksFollowVerifyingAndEvictingAndTheSpaceKnowsThem() {
        let space = CacheSpace(limit: 600)
        var have = Bitfield(count: 10)
        for piece in [0, 1, 9] { have[piece] = true }
        let share = CacheShare(space: space, layout: layout, have: have)
        #expect(share.verifiedBytes == 250)
        let member = Member()
        share.join(as: member)
        #expect(space.verifiedBytes == 250)

        share.pieceVerified(2)
        #expect(share.verifiedBytes == 350 && space.verifiedBytes == 350)

        // A piece being replied from refuses to be withdrawn and stays verified.
        let victims = share.beginEviction(of: [0, 1, 2]) { $0 != 1 }
        #expect(victims == [0, 2])
        #expect(share.verifiedBytes == 150 && share.evictingBytes == 200)
        #expect(space.verifiedBytes == 150 && space.evictingBytes == 200)
        #expect(share.isEvicting && share.isBeingEvicted(0) && !share.isBeingEvicted(1))
        #expect(share.beginEviction(of: [9]) { _ in true } == nil, "one eviction at a time")
        #expect(share.candidates(have: have) { _ in false }.isEmpty, "nothing is offered while evicting")

        share.evictionFinished([0, 2])
        #expect(!share.isEvicting && !share.isBeingEvicted(0))
        #expect(share.verifiedBytes == 150 && share.evictingBytes == 0)
        #expect(space.verifiedBytes == 150 && space.evictingBytes == 0)

        share.leave()
        #expect(space.verifiedBytes == 0, "a torrent that stopped counts no more")
        share.pieceVerified(3)
        #expect(space.verifiedBytes == 0, "nor does what it reports afterwards")
    }

    @Test func coldestPiecesAreOfferedFirstAndProtectedOnesNever() {
        let space = CacheSpace(limit: 600)
        var have = Bitfield(count: 10)
        for piece in 0..<4 { have[piece] = true }
        let share = CacheShare(space: space, layout: layout, have: have)
        share.used(2..<3)
        share.used(0..<1)
        share.used(3..<4)
        // Piece 1 was never used since the start: the coldest. Piece 3 is read ahead: kept.
        let offered = share.candidates(have: have) { $0 == 3 }.map(\.piece)
        #expect(offered == [1, 2, 0])
    }

    @Test func aSizeLimitCapsReadaheadAndPiecesInFlight() {
        let limited = CacheShare(space: CacheSpace(limit: 4000), layout: layout, have: Bitfield(count: 10))
        #expect(limited.readaheadCap == 1000)
        #expect(limited.piecesInFlightCap == 10)
        let unlimited = CacheShare(space: CacheSpace(limit: nil), layout: layout, have: Bitfield(count: 10))
        #expect(unlimited.piecesInFlightCap == .max)
        #expect(unlimited.readaheadCap == 64 * 1024 * 1024)
    }
}
