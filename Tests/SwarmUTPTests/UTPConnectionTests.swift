import SwarmUTP
import Testing

@Suite("uTP connection")
struct UTPConnectionTests {
    static func payload(_ count: Int, seed: UInt8 = 3) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ $0 >> 11) }
    }

    @Test("connect and accept pair the connection ids and carry data both ways")
    func handshakeAndBothWays() throws {
        let link = MemoryLink()
        #expect(link.run(for: 1_000_000) { link.a.state == .connected })
        let b = try #require(link.b)
        #expect(link.a.sendID == 0x1235 && link.a.receiveID == 0x1234)
        #expect(b.sendID == 0x1234 && b.receiveID == 0x1235)
        let toB = Self.payload(50_000)
        #expect(link.transfer(toB).received == toB)
        let toA = Self.payload(70_000, seed: 9)
        #expect(link.transfer(toA, fromA: false).received == toA)
        #expect(link.a.retransmissions == 0 && b.retransmissions == 0)
    }

    @Test("4 MiB cross a lossless 20 ms link byte-exact, and the window opens to the bandwidth-delay product")
    func bulkLossless() {
        // 4 MB/s each way: 4000 bytes per ms; 40 ms round trip: 160 KB in flight needed.
        let link = MemoryLink(delay: 20_000, rate: 4_000)
        let data = Self.payload(4 << 20)
        let (received, took) = link.transfer(data)
        #expect(received == data)
        // At the bottleneck's rate the 4 MiB need 1.05 s; slow start and the handshake add a few
        // round trips. A window stuck small (2 packets per 40 ms: 60 KB/s) would need a minute.
        let seconds = Double(took ?? .max) / 1e6
        #expect(seconds < 1.6, "took \(seconds) s")
    }

    @Test("a lossy, reordering link still delivers every byte in order", arguments: [(2, 1), (5, 7), (10, 3)])
    func lossy(lossPercent: Int, seed: UInt64) {
        let link = MemoryLink(delay: 15_000, rate: 2_000, lossPercent: lossPercent, reorderPercent: 5, seed: seed)
        let data = Self.payload(1 << 20)
        let (received, took) = link.transfer(data)
        #expect(took != nil)
        #expect(received == data)
        #expect(link.a.retransmissions > 0)
        #expect(link.droppedDatagrams > 0)
    }

    @Test("LEDBAT keeps the bottleneck's queue near the 100 ms target, not full")
    func ledbatBoundsQueueing() {
        // A slow link (500 KB/s) whose queue is unbounded: TCP would fill the whole send buffer
        // into it (1 MiB: 2 s of queue). LEDBAT should hold it around 100 ms.
        var settings = UTPConnectionSettings()
        settings.sendBufferCapacity = 4 << 20
        let link = MemoryLink(delay: 10_000, rate: 500, settings: settings)
        let data = Self.payload(3 << 20)
        let (received, _) = link.transfer(data)
        #expect(received == data)
        #expect(link.maxQueueing < 400_000, "queue reached \(link.maxQueueing) µs")
        #expect(link.a.congestion.queueingDelay < 250_000)
    }

    @Test("a reader that stops reading closes the window; reading opens it again")
    func flowControl() throws {
        var settings = UTPConnectionSettings()
        settings.receiveBufferCapacity = 64 * 1024
        let link = MemoryLink(settings: settings)
        let data = Self.payload(300_000)
        var offset = 0
        link.run(for: 3_000_000) {
            if link.b != nil { offset += link.a.write(data[offset...], now: link.now) }
            return false
        }
        let b = try #require(link.b)
        // Held: at most the window and one probe packet.
        #expect(b.readable <= 64 * 1024 + settings.payloadSize)
        #expect(b.readable > 32 * 1024)
        #expect(link.a.state == .connected)
        let (rest, took) = (b.read(.max, now: link.now), UInt64(0))
        _ = took
        var received = rest
        #expect(link.run(for: 30_000_000) {
            offset += link.a.write(data[offset...], now: link.now)
            received += b.read(.max, now: link.now)
            return received.count == data.count
        })
        #expect(received == data)
    }

    @Test("FIN each way closes both ends cleanly")
    func finish() throws {
        let link = MemoryLink(lossPercent: 10, seed: 4)
        let data = Self.payload(20_000)
        #expect(link.transfer(data).received == data)
        let b = try #require(link.b)
        link.a.finish(now: link.now)
        #expect(link.run(for: 10_000_000) { b.peerFinished })
        b.finish(now: link.now)
        #expect(link.run(for: 10_000_000) { link.a.state == .closed && b.state == .closed })
        #expect(link.a.closeReason == .finished)
        #expect(b.closeReason == .finished)
        #expect(link.a.write([1], now: link.now) == 0)
    }

    @Test("an unanswered SYN gives up after the configured attempts")
    func connectTimeout() {
        let link = MemoryLink()
        link.bReachable = false
        #expect(link.run(for: 10_000_000) { link.a.state == .closed })
        #expect(link.a.closeReason == .connectTimedOut)
        // 2 SYNs: at 0 and 0.5 s; given up at 1.5 s (the dialler then tries TCP).
        #expect(link.sentDatagrams == 2)
        #expect(link.now - 1_000_000 <= 1_501_000)
    }

    @Test("a peer that vanishes mid-transfer times the connection out; a reset closes at once")
    func vanishAndReset() throws {
        let link = MemoryLink()
        #expect(link.run(for: 1_000_000) { link.b != nil && link.a.state == .connected })
        link.bReachable = false
        let vanished = link.now
        link.a.write(Self.payload(100_000), now: link.now)
        #expect(link.run(for: 600_000_000) { link.a.state == .closed })
        #expect(link.a.closeReason == .timedOut)
        // Four timeouts doubling from 0.5 s, given up at the fifth: 0.5 + 1 + 2 + 4 + 8 s. Not
        // sooner (a peer silent for a few seconds is not dead), not much later (libtorrent has
        // long dropped its end, silently, after 3 resends).
        let waited = link.now - vanished
        #expect(waited >= 15_000_000 && waited <= 16_000_000, "gave up after \(waited) µs")

        let second = MemoryLink()
        #expect(second.run(for: 1_000_000) { second.b != nil && second.a.state == .connected })
        let b = try #require(second.b)
        b.abort(now: second.now)
        #expect(b.closeReason == .aborted)
        #expect(second.run(for: 1_000_000) { second.a.state == .closed })
        #expect(second.a.closeReason == .reset)
    }

    @Test("LEDBAT: no queueing grows the window, queueing above target shrinks it, a loss halves it")
    func congestionRules() {
        var cc = UTPCongestion(packetSize: 1200, maximumWindow: 1 << 20)
        cc.delaySample(50_000, now: 0)
        cc.lost()  // leave slow start
        let start = cc.window
        for _ in 0..<20 { cc.delaySample(50_000, now: 1); cc.acked(bytes: 1200, windowWasFull: true) }
        let grown = cc.window
        #expect(grown > start)
        for _ in 0..<20 { cc.delaySample(50_000 + 200_000, now: 2); cc.acked(bytes: 1200, windowWasFull: true) }
        #expect(cc.window < grown)
        let before = cc.window
        cc.acked(bytes: 1200, windowWasFull: false)
        #expect(cc.window == before)
        cc.lost()
        #expect(cc.window == max(cc.minimumWindow, before / 2))
        cc.timedOut()
        #expect(cc.window == cc.minimumWindow)
        // A peer reporting absurd delays (hours of queue) shrinks the window to its floor, no more.
        var hostile = UTPCongestion(packetSize: 1200, maximumWindow: 4 << 20)
        hostile.delaySample(0, now: 0)
        hostile.delaySample(0x7fff_ffff, now: 1)
        #expect(hostile.queueingDelay <= 10_000_000)
        hostile.acked(bytes: 4 << 20, windowWasFull: true)
        hostile.lost()
        hostile.acked(bytes: 4 << 20, windowWasFull: true)
        #expect(hostile.window == hostile.minimumWindow)
    }
}
