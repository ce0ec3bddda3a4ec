import Logging
import NIOCore
import NIOPosix
import SwarmMetainfo
import Testing
@testable import SwarmTracker

/// Announces against real sockets on loopback: Debian's opentracker over HTTP and UDP, and fake
/// trackers that are down, silent, or send too much.
@Suite("Trackers over loopback", .serialized)
struct TrackerIntegrationTests {
    private let group = MultiThreadedEventLoopGroup.singleton

    private static func randomInfoHash() -> InfoHash {
        InfoHash(bytes: (0..<20).map { _ in UInt8.random(in: 0...255) })!
    }

    private static func request(_ infoHash: InfoHash, peer: String, port: UInt16, event: AnnounceEvent = .started) -> AnnounceRequest {
        AnnounceRequest(infoHash: infoHash, peerID: Array("-SF0100-\(peer)".utf8.prefix(20)) + [UInt8](repeating: 0x41, count: max(0, 12 - peer.utf8.count)),
                        port: port, left: 1000, event: event, numWant: 50, key: UInt32.random(in: 0...UInt32.max))
    }

    /// Two fake peers announce; each must get the other back.
    private func twoPeersMeet(scheme: (OpenTracker) -> String) async throws {
        let infoHash = Self.randomInfoHash()
        let tracker = try await OpenTracker.start(whitelistHex: [infoHash.hex])
        defer { tracker.stop() }
        let client = try makeTrackerClient(url: scheme(tracker), eventLoopGroup: group, httpClient: nil)
        let peerA = PeerAddress(host: "127.0.0.1", port: 41001)
        let peerB = PeerAddress(host: "127.0.0.1", port: 41002)

        // opentracker loads its whitelist on a thread after it starts listening: retry briefly.
        var firstResult: Result<AnnounceResponse, TrackerError> = .failure(.timeout(url: client.url))
        for _ in 0..<50 {
            do throws(TrackerError) {
                firstResult = .success(try await client.announce(Self.request(infoHash, peer: "peerA", port: peerA.port), timeout: .seconds(10)))
                break
            } catch {
                firstResult = .failure(error)
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let first = try firstResult.get()
        #expect(!first.peers.contains(peerB))
        let second = try await client.announce(Self.request(infoHash, peer: "peerB", port: peerB.port), timeout: .seconds(10))
        #expect(second.peers.contains(peerA), "B gets A back: \(second.peers)")
        let third = try await client.announce(Self.request(infoHash, peer: "peerA", port: peerA.port, event: .none), timeout: .seconds(10))
        #expect(third.peers.contains(peerB), "A gets B back: \(third.peers)")
        #expect(third.interval > .zero)
        #expect((third.leechers ?? 0) >= 2)

        // A torrent the tracker does not serve is refused with the tracker's reason (HTTP) or error (UDP).
        let unknown = Self.randomInfoHash()
        await #expect(throws: TrackerError.self) {
            _ = try await client.announce(Self.request(unknown, peer: "peerC", port: 41003), timeout: .seconds(3))
        }
    }

    @Test("opentracker over HTTP: two peers get each other back", .enabled(if: OpenTracker.isInstalled, "opentracker is not installed"))
    func openTrackerHTTP() async throws {
        try await twoPeersMeet { $0.httpURL }
    }

    @Test("opentracker over UDP: two peers get each other back", .enabled(if: OpenTracker.isInstalled, "opentracker is not installed"))
    func openTrackerUDP() async throws {
        try await twoPeersMeet { $0.udpURL }
    }

    @Test("a closed HTTP port fails quickly with a transport error")
    func closedHTTPPort() async throws {
        let port = try Loopback.deadPort()
        let client = try makeTrackerClient(url: "http://\(Loopback.deadHost):\(port)/announce", eventLoopGroup: group, httpClient: nil)
        let start = ContinuousClock.now
        await #expect {
            _ = try await client.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .seconds(10))
        } throws: { error in
            guard case .transport = error as? TrackerError else { return false }
            return true
        }
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test("a closed UDP port fails quickly (ICMP unreachable), not after retransmissions")
    func closedUDPPort() async throws {
        let port = try Loopback.deadPort(udp: true)
        let client = try makeTrackerClient(url: "udp://\(Loopback.deadHost):\(port)", eventLoopGroup: group, httpClient: nil,
                                           options: TrackerClientOptions(udpRetransmit: .init(base: .seconds(2), maxRetransmits: 3)))
        let start = ContinuousClock.now
        await #expect(throws: TrackerError.self) {
            _ = try await client.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .seconds(20))
        }
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test("a UDP tracker that never answers: retransmits on base · 2^n, then times out")
    func silentUDPTracker() async throws {
        let silent = try await FakeUDPTracker(behaviour: .silent, group: group)
        let base = Duration.milliseconds(100)
        let client = try makeTrackerClient(url: silent.url, eventLoopGroup: group, httpClient: nil,
                                           options: TrackerClientOptions(udpRetransmit: .init(base: base, maxRetransmits: 3)))
        let start = ContinuousClock.now
        await #expect(throws: TrackerError.timeout(url: silent.url)) {
            _ = try await client.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .seconds(30))
        }
        let elapsed = ContinuousClock.now - start
        let stats = silent.stats.withLock { $0 }
        await silent.close()
        #expect(stats.datagrams == 4, "one attempt plus 3 retransmissions")
        // 100 + 200 + 400 + 800 ms
        #expect(elapsed >= .milliseconds(1400) && elapsed < .seconds(8), "\(elapsed)")
        // Retransmission k leaves no earlier than base · (2^k - 1) after the first send. Measured
        // from `start` (taken before that send), a late read on the tracker's side only makes an
        // arrival later, so this bound holds however loaded the machine is; gaps between arrivals
        // did not (a delayed read of datagram k shortens gap k, seen once at load 18).
        if stats.arrivals.count == 4 {
            let sinceStart = stats.arrivals.map { $0 - start }
            #expect(sinceStart[1] >= .milliseconds(100) && sinceStart[2] >= .milliseconds(300)
                    && sinceStart[3] >= .milliseconds(700), "\(sinceStart)")
        }
    }

    @Test("the overall deadline bounds a silent UDP tracker")
    func deadlineBoundsRetransmits() async throws {
        let silent = try await FakeUDPTracker(behaviour: .silent, group: group)
        let client = try makeTrackerClient(url: silent.url, eventLoopGroup: group, httpClient: nil)  // BEP 15: 15 s base
        let start = ContinuousClock.now
        await #expect(throws: TrackerError.timeout(url: silent.url)) {
            _ = try await client.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .milliseconds(300))
        }
        await silent.close()
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    @Test("the UDP connection id is reused within its lifetime; tracker errors are failures")
    func connectionIDReuse() async throws {
        let peers = [PeerAddress(host: "127.0.0.9", port: 5000)]
        let tracker = try await FakeUDPTracker(behaviour: .answer(peers: peers, interval: 120), group: group)
        let client = try makeTrackerClient(url: tracker.url, eventLoopGroup: group, httpClient: nil)
        for _ in 0..<3 {
            let response = try await client.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .seconds(5))
            #expect(response.peers == peers)
            #expect(response.interval == .seconds(120))
        }
        let stats = tracker.stats.withLock { $0 }
        await tracker.close()
        #expect(stats.connects == 1 && stats.announces == 3)
        #expect(stats.events == [2, 2, 2])

        let refusing = try await FakeUDPTracker(behaviour: .error("torrent not registered"), group: group)
        let refusingClient = try makeTrackerClient(url: refusing.url, eventLoopGroup: group, httpClient: nil)
        await #expect(throws: TrackerError.failure(url: refusing.url, reason: "torrent not registered")) {
            _ = try await refusingClient.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .seconds(5))
        }
        await refusing.close()
    }

    @Test("an expired connection id is replaced by a new connect")
    func connectionIDExpiry() async throws {
        let tracker = try await FakeUDPTracker(behaviour: .answer(peers: [], interval: 60), group: group)
        let client = UDPTrackerClient(
            url: tracker.url, target: try TrackerURL(tracker.url), eventLoopGroup: group, retransmit: .bep15,
            connectionIDLifetime: .milliseconds(200))
        _ = try await client.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .seconds(5))
        _ = try await client.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .seconds(5))
        #expect(tracker.stats.withLock { $0.connects } == 1)
        try await Task.sleep(for: .milliseconds(300))
        _ = try await client.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .seconds(5))
        #expect(tracker.stats.withLock { ($0.connects, $0.announces) } == (2, 3))
        await tracker.close()
    }

    @Test("a reply with another transaction id is ignored")
    func staleTransactionIgnored() async throws {
        let peers = [PeerAddress(host: "127.0.0.8", port: 8000)]
        let tracker = try await FakeUDPTracker(behaviour: .answerAfterDecoy(peers: peers, interval: 90), group: group)
        let client = try makeTrackerClient(url: tracker.url, eventLoopGroup: group, httpClient: nil)
        let response = try await client.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .seconds(5))
        #expect(response.peers == peers, "the decoy's peer 10.6.6.6 must not appear")
        #expect(response.interval == .seconds(90))
        await tracker.close()
    }

    @Test("an HTTP tracker that never answers times out at the deadline")
    func silentHTTPTracker() async throws {
        let server = try await FakeHTTPServer(behaviour: .silent, group: group)
        let client = try makeTrackerClient(url: server.url, eventLoopGroup: group, httpClient: nil)
        let start = ContinuousClock.now
        await #expect(throws: TrackerError.timeout(url: server.url)) {
            _ = try await client.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .milliseconds(500))
        }
        await server.close()
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test("an oversized HTTP response is refused without buffering it", arguments: [
        "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
    ])
    func oversizedHTTPResponse(head: String) async throws {
        let server = try await FakeHTTPServer(behaviour: .stream(head: head, bodyBytes: 3 << 20), group: group)
        let client = try makeTrackerClient(url: server.url, eventLoopGroup: group, httpClient: nil,
                                           options: TrackerClientOptions(maxHTTPResponseBytes: 1 << 20))
        await #expect {
            _ = try await client.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .seconds(5))
        } throws: { error in
            guard case .malformedResponse = error as? TrackerError else { return false }
            return true
        }
        await server.close()
    }

    @Test("an HTTP error status is a transport error; a bencoded failure in it is a failure")
    func httpErrorStatus() async throws {
        let server = try await FakeHTTPServer(
            behaviour: .stream(head: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", bodyBytes: 0), group: group)
        let client = try makeTrackerClient(url: server.url, eventLoopGroup: group, httpClient: nil)
        await #expect(throws: TrackerError.transport(url: server.url, underlying: "HTTP 404 Not Found")) {
            _ = try await client.announce(Self.request(Self.randomInfoHash(), peer: "a", port: 1), timeout: .seconds(5))
        }
        await server.close()
    }

    @Test("unsupported schemes are refused up front")
    func unsupportedScheme() {
        #expect(throws: TrackerError.unsupportedScheme("wss://tracker.test/announce")) {
            _ = try makeTrackerClient(url: "wss://tracker.test/announce", eventLoopGroup: group, httpClient: nil)
        }
    }
}
