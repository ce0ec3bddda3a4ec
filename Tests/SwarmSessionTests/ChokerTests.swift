@testable import SwarmSession
import Testing

private struct Counter: RandomNumberGenerator {
    var state: UInt64 = 1
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state
    }
}

private func candidate(_ key: Int32, interested: Bool = true, down: Double = 0, up: Double = 0,
                       snubbed: Bool = false) -> ChokeCandidate {
    ChokeCandidate(key: key, interested: interested, downloadRate: down, uploadRate: up, snubbed: snubbed)
}

@Test func regularSlotsGoToTheBestUploadersWhileDownloading() {
    var choker = Choker(regularSlots: 2)
    var random = Counter()
    let peers = [candidate(1, down: 10), candidate(2, down: 300), candidate(3, down: 200),
                 candidate(4, interested: false, down: 999)]
    let unchoked = choker.decide(peers, seeding: false, rotateOptimistic: true, using: &random)
    #expect(unchoked.isSuperset(of: [2, 3]))
    #expect(!unchoked.contains(4))
    // The optimistic slot is the one interested peer left.
    #expect(unchoked == [1, 2, 3])
    #expect(choker.optimistic == 1)
}

@Test func seedingRanksByWhatPeersTake() {
    var choker = Choker(regularSlots: 1)
    var random = Counter()
    let peers = [candidate(1, down: 500, up: 1), candidate(2, down: 0, up: 90)]
    let unchoked = choker.decide(peers, seeding: true, rotateOptimistic: false, using: &random)
    #expect(unchoked.contains(2))
}

@Test func snubbedPeersGetNoRegularSlot() {
    var choker = Choker(regularSlots: 1)
    var random = Counter()
    let peers = [candidate(1, down: 900, snubbed: true), candidate(2, down: 5), candidate(3, down: 1)]
    let unchoked = choker.decide(peers, seeding: false, rotateOptimistic: true, using: &random)
    #expect(unchoked.contains(2))
    #expect(unchoked.count == 2)   // one regular, one optimistic
}

@Test func optimisticSlotStaysUntilRotated() {
    var choker = Choker(regularSlots: 0)
    var random = Counter()
    let peers = (1...6).map { candidate(Int32($0)) }
    _ = choker.decide(peers, seeding: false, rotateOptimistic: true, using: &random)
    let first = choker.optimistic
    for _ in 0..<5 {
        #expect(choker.decide(peers, seeding: false, rotateOptimistic: false, using: &random) == [first!])
    }
    var seen = Set<Int32>()
    for _ in 0..<50 {
        _ = choker.decide(peers, seeding: false, rotateOptimistic: true, using: &random)
        seen.insert(choker.optimistic!)
    }
    #expect(seen.count > 1)
}

@Test func tokenBucketLimitsAndRefills() {
    var bucket = TokenBucket(bytesPerSecond: 1000)
    #expect(bucket.canSpend)
    bucket.spend(1500)
    #expect(!bucket.canSpend)
    bucket.refill(seconds: 0.25)
    #expect(!bucket.canSpend)      // -500 + 250
    bucket.refill(seconds: 0.5)
    #expect(bucket.canSpend)
    bucket.refill(seconds: 10)
    #expect(bucket.tokens == 1000) // one second of burst at most
    var unlimited = TokenBucket(bytesPerSecond: 0)
    unlimited.spend(1 << 40)
    #expect(unlimited.canSpend)
}
