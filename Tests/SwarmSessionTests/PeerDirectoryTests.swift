import NIOCore
@testable import SwarmSession
import Testing

private func ipv4(_ n: Int) -> String { "10.\((n >> 16) & 255).\((n >> 8) & 255).\(n & 255)" }

@Test func aTrackerFloodIsCappedAtTheDirectorysCapacity() {
    let directory = PeerDirectory()
    // One hostile announce may carry ~350k compact peers.
    for n in 0..<20_000 { directory.add(host: ipv4(n), port: 6881) }
    #expect(directory.count <= 4_000)
    #expect(directory.count > 0)
}

@Test func evictionTakesTheMostFailedThenTheLeastRecentlyUsefulAndNeverAConnectedPeer() {
    let directory = PeerDirectory(capacity: 4)
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    for n in 1...4 { directory.add(host: ipv4(n), port: 6881) }
    // 1 is connected (never evicted); 2 failed twice; 3 was useful; 4 was useful before 3.
    let first = directory.nextCandidate(now: start)
    #expect(first?.host == ipv4(1))
    directory.failed("\(ipv4(2)):6881", now: start)
    directory.failed("\(ipv4(2)):6881", now: start)
    _ = directory.nextCandidate(now: start + .seconds(1))   // 3
    _ = directory.nextCandidate(now: start + .seconds(1))   // 4
    directory.disconnected("\(ipv4(4)):6881", wasUseful: true, now: start + .seconds(10))
    directory.disconnected("\(ipv4(3)):6881", wasUseful: true, now: start + .seconds(20))

    directory.add(host: ipv4(5), port: 6881)
    #expect(!directory.contains("\(ipv4(2)):6881"))   // the most failures
    directory.add(host: ipv4(6), port: 6881)
    #expect(!directory.contains("\(ipv4(5)):6881"))   // never useful, so older than any use
    directory.add(host: ipv4(7), port: 6881)
    #expect(!directory.contains("\(ipv4(6)):6881"))
    #expect(directory.contains("\(ipv4(1)):6881"))
    #expect(directory.contains("\(ipv4(3)):6881") && directory.contains("\(ipv4(4)):6881"))
    #expect(directory.count == 4)
}

@Test func aFullDirectoryOfConnectedPeersDropsNewAddresses() {
    let directory = PeerDirectory(capacity: 2)
    directory.add(host: ipv4(1), port: 1)
    directory.add(host: ipv4(2), port: 1)
    let now = NIODeadline.now()
    #expect(directory.nextCandidate(now: now) != nil)
    #expect(directory.nextCandidate(now: now) != nil)
    directory.add(host: ipv4(3), port: 1)
    #expect(directory.count == 2)
    #expect(!directory.contains("\(ipv4(3)):1"))
}

@Test func pickingTakesTheAddressWhoseBackOffEndedFirst() {
    let directory = PeerDirectory()
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    for n in 1...3 { directory.add(host: ipv4(n), port: 6881) }
    let picked = (0..<3).compactMap { _ in directory.nextCandidate(now: start)?.host }
    #expect(picked == [ipv4(1), ipv4(2), ipv4(3)])   // first added, first tried
    #expect(directory.nextCandidate(now: start) == nil)
    directory.failed("\(ipv4(1)):6881", now: start)                  // retry at +5 s
    directory.disconnected("\(ipv4(2)):6881", wasUseful: true, now: start)  // retry at +2 s
    #expect(directory.nextCandidate(now: start + .seconds(1)) == nil)
    #expect(directory.nextCandidate(now: start + .seconds(3))?.host == ipv4(2))
    #expect(directory.nextCandidate(now: start + .seconds(3)) == nil)
    #expect(directory.nextCandidate(now: start + .seconds(6))?.host == ipv4(1))
}

@Test func pickingStaysCheapWhenThousandsWait() {
    let directory = PeerDirectory()
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    for n in 0..<4_000 { directory.add(host: ipv4(n), port: 6881) }
    // Every address fails over and over: the heaps stay bounded, picking stays in order.
    var round = now
    for _ in 0..<20 {
        round = round + .seconds(3_600)
        var picked = 0
        while let candidate = directory.nextCandidate(now: round) {
            directory.failed(candidate.address, now: round)
            picked += 1
        }
        #expect(picked == 4_000)
    }
    #expect(directory.count == 4_000)
    #expect(directory.nextCandidate(now: round) == nil)
}

@Test func aBannedHostIsNeitherDialledNorAddedAgain() {
    let directory = PeerDirectory()
    directory.add(host: "10.0.0.1", port: 1)
    directory.add(host: "10.0.0.1", port: 2)
    directory.add(host: "10.0.0.2", port: 1)
    directory.ban(host: "10.0.0.1")
    #expect(directory.isBanned(host: "10.0.0.1"))
    #expect(directory.isBanned(host: "::ffff:10.0.0.1"))   // the same IPv4 host on a dual-stack socket
    #expect(!directory.isBanned(host: "10.0.0.2"))
    let now = NIODeadline.now()
    #expect(directory.nextCandidate(now: now)?.host == "10.0.0.2")
    #expect(directory.nextCandidate(now: now) == nil)
    directory.add(host: "10.0.0.1", port: 3)
    #expect(!directory.contains("10.0.0.1:3"))
    directory.ban("10.0.0.2:1")
    directory.add(host: "10.0.0.2", port: 1)
    #expect(!directory.contains("10.0.0.2:1"))
}
