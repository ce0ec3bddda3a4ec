import Logging
import NIOCore
import NIOPosix
import SwarmMetainfo
import Testing
@testable import SwarmTracker

@Suite("BEP 12 tiers", .serialized)
struct TrackerSetTests {
    private let group = MultiThreadedEventLoopGroup.singleton
    private let logger: Logger = {
        var logger = Logger(label: "test.trackers")
        logger.logLevel = .debug  // each failed tracker is logged: a slow fall-through explains itself
        return logger
    }()
    private let request = AnnounceRequest(
        infoHash: InfoHash(bytes: [UInt8](repeating: 7, count: 20))!, peerID: Array("-SF0100-tiertiertier".utf8),
        port: 6881, left: 100, event: .started)

    private var fastConfiguration: TrackerSetConfiguration {
        TrackerSetConfiguration(
            announceTimeout: .seconds(10),
            clientOptions: TrackerClientOptions(udpRetransmit: .init(base: .milliseconds(100), maxRetransmits: 1)),
            minimumInterval: .seconds(30), peerHungryInterval: .seconds(45),
            failureBackoffBase: .seconds(15), failureBackoffCap: .seconds(100))
    }

    @Test("shuffling within a tier is a permutation, reproducible by seed; bad URLs are dropped")
    func shuffle() async {
        let urls = (1...8).map { "udp://127.0.0.1:\(6000 + $0)" }
        let a = TrackerSet(tiers: [urls, ["wss://x.test/a"], ["http://t.test/a"]], eventLoopGroup: group, logger: logger, shuffleSeed: 1)
        let b = TrackerSet(tiers: [urls, ["wss://x.test/a"], ["http://t.test/a"]], eventLoopGroup: group, logger: logger, shuffleSeed: 1)
        let orderA = await a.orderedURLs
        #expect(orderA == (await b.orderedURLs))
        #expect(orderA.count == 2, "the tier with only an unsupported URL is dropped")
        #expect(Set(orderA[0]) == Set(urls))
        var seenOrders = Set<[String]>()
        for seed in UInt64(1)...20 {
            seenOrders.insert(await TrackerSet(tiers: [urls], eventLoopGroup: group, logger: logger, shuffleSeed: seed).orderedURLs[0])
        }
        #expect(seenOrders.count > 1, "different seeds shuffle differently")
    }

    @Test("dead trackers fall through to the live one in a later tier, which is promoted in its tier")
    func fallThroughAndPromote() async throws {
        let live = try await FakeUDPTracker(behaviour: .answer(peers: [PeerAddress(host: "127.0.0.5", port: 7000)], interval: 300), group: group)
        let silent = try await FakeUDPTracker(behaviour: .silent, group: group)
        let deadHTTP = "http://\(Loopback.deadHost):\(try Loopback.deadPort())/announce"
        let deadUDP = "udp://\(Loopback.deadHost):\(try Loopback.deadPort(udp: true))"
        let set = TrackerSet(tiers: [[deadHTTP, deadUDP], [silent.url, live.url]], eventLoopGroup: group, logger: logger,
                             configuration: fastConfiguration, shuffleSeed: 3)
        let start = ContinuousClock.now
        let result = await set.announce(request)
        let response = try result.get()
        #expect(response.peers == [PeerAddress(host: "127.0.0.5", port: 7000)])
        // Dead ones are refused at once and the silent one costs 100 + 200 ms; BEP 15's 15 s schedule
        // would take minutes. The bound is loose because parallel tests share two cores.
        #expect(ContinuousClock.now - start < .seconds(8))
        #expect(await set.orderedURLs[1][0] == live.url, "the tracker that answered leads its tier")

        // The next announce goes straight to the promoted tracker after the dead first tier.
        let before = silent.stats.withLock { $0.datagrams }
        _ = try await set.announce(request).get()
        #expect(silent.stats.withLock { $0.datagrams } == before)

        // Scheduling: the tracker's interval; sooner when peer-hungry.
        let regular = await set.nextAnnounceDelay(needMorePeers: false)
        #expect(regular > .seconds(295) && regular <= .seconds(300))
        let hungry = await set.nextAnnounceDelay(needMorePeers: true)
        #expect(hungry > .seconds(40) && hungry <= .seconds(45))

        // stopped goes to the tracker(s) that answered, with the BEP 15 code 3. The deadline is
        // only an upper bound (it returns when the tracker answers): generous, because with every
        // suite running at once on two cores a connect + announce once took over 2 s.
        await set.announceStopped(request, deadline: .seconds(30))
        #expect(live.stats.withLock { $0.events.last } == 3)
        await set.shutdown()
        await live.close()
        await silent.close()
    }

    @Test("when every tracker fails the error is returned and announces back off")
    func allDead() async throws {
        let deadHTTP = "http://\(Loopback.deadHost):\(try Loopback.deadPort())/announce"
        let set = TrackerSet(tiers: [[deadHTTP]], eventLoopGroup: group, logger: logger, configuration: fastConfiguration)
        #expect(await set.nextAnnounceDelay(needMorePeers: true) == .zero, "nothing announced yet")
        guard case let .failure(error) = await set.announce(request) else {
            Issue.record("a dead tracker cannot succeed")
            return
        }
        guard case .transport(let url, _) = error else {
            Issue.record("expected a transport error, got \(error)")
            return
        }
        #expect(url == deadHTTP)
        let first = await set.nextAnnounceDelay(needMorePeers: true)
        #expect(first > .seconds(14) && first <= .seconds(15))
        _ = await set.announce(request)
        let second = await set.nextAnnounceDelay(needMorePeers: true)
        #expect(second > .seconds(29) && second <= .seconds(30))
        for _ in 0..<4 { _ = await set.announce(request) }
        #expect(await set.nextAnnounceDelay(needMorePeers: false) <= .seconds(100), "capped")
    }

    @Test("an empty tracker list fails without trying anything")
    func noTrackers() async {
        let set = TrackerSet(tiers: [[], ["ftp://x"]], eventLoopGroup: group, logger: logger)
        #expect(await set.isEmpty)
        guard case .failure = await set.announce(request) else {
            Issue.record("expected failure")
            return
        }
    }
}
