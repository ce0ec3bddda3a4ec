@testable import SwarmSession
import Testing

struct PieceMemoryBudgetTests {
    @Test func aTorrentAloneMayHoldTheWholeBudgetAndAtLeastFourPieces() {
        let budget = PieceMemoryBudget(totalBytes: 16 << 20)
        let alone = budget.register()
        #expect(budget.allowedPieces(for: alone, pieceLength: 1 << 20) == 16)
        #expect(budget.allowedPieces(for: alone, pieceLength: 16 << 20) == 4, "as before the engine: never under four")
        budget.report(alone, bytes: 10 << 20)
        #expect(budget.allowedPieces(for: alone, pieceLength: 1 << 20) == 16, "its own use is its own allowance")
    }

    @Test func torrentsShareTheBudgetAndNoneStarves() {
        let budget = PieceMemoryBudget(totalBytes: 16 << 20)
        let busy = budget.register()
        let other = budget.register()
        budget.report(busy, bytes: 12 << 20)
        #expect(budget.allowedPieces(for: other, pieceLength: 1 << 20) == 4)
        budget.report(busy, bytes: 16 << 20)
        #expect(budget.allowedPieces(for: other, pieceLength: 1 << 20) == 1, "one piece always, so no torrent starves")
        budget.unregister(busy)
        #expect(budget.allowedPieces(for: other, pieceLength: 1 << 20) == 16, "a stopped torrent's memory is free again")
    }

    @Test func reportsOfUnknownTorrentsAreIgnored() {
        let budget = PieceMemoryBudget(totalBytes: 8 << 20)
        let gone = budget.register()
        budget.unregister(gone)
        budget.report(gone, bytes: 8 << 20)
        let fresh = budget.register()
        #expect(budget.allowedPieces(for: fresh, pieceLength: 1 << 20) == 8)
    }
}

struct RateLimitsTests {
    @Test func refillsCountElapsedTimeOnceWhoeverAsks() {
        let start = NIODeadlineForTests.start
        let limits = RateLimits(maxUploadRate: 1000, maxDownloadRate: 0, now: start)
        limits.upload.spend(1000)
        #expect(!limits.upload.canSpend)
        // Two torrents refill on their own ticks at the same moment: half a second earns 500, not 1000.
        limits.refill(now: start + .milliseconds(500))
        limits.refill(now: start + .milliseconds(500))
        #expect(limits.upload.tokens == 500)
        #expect(limits.download.canSpend, "no download limit")
    }
}

import NIOCore
enum NIODeadlineForTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
}
