import SwarmUTP
import Testing

@Suite("uTP path MTU discovery")
struct UTPPathMTUTests {
    /// Settings that probe up to a 1500-byte IPv4 frame, as the engine's IPv4 socket does.
    static var probing: UTPConnectionSettings {
        var settings = UTPConnectionSettings()
        settings.maximumPayloadSize = UTPConnectionSettings.ipv4FramePayloadSize
        return settings
    }

    @Test("the search tries the ceiling first, then halves the gap until it is within 16 bytes")
    func search() {
        var mtu = UTPPathMTU(floor: 1180, ceiling: 1452)
        #expect(mtu.nextProbeSize == 1452)
        mtu.sent(sequence: 10, size: 1452)
        #expect(mtu.nextProbeSize == nil)  // one probe at a time
        let otherAcked = mtu.acked(sequence: 9)
        let probeLost = mtu.lost(sequence: 10)
        #expect(!otherAcked && probeLost)
        #expect(mtu.ceiling == 1451 && mtu.floor == 1180)
        // A path whose largest payload is 1380: every probe above it is lost.
        var sequence: UInt16 = 11
        while let size = mtu.nextProbeSize {
            mtu.sent(sequence: sequence, size: size)
            if size <= 1380 { mtu.acked(sequence: sequence) } else { mtu.lost(sequence: sequence) }
            sequence &+= 1
        }
        #expect(mtu.settled)
        #expect(mtu.floor <= 1380 && mtu.floor > 1380 - UTPPathMTU.closeEnough)
        #expect(sequence - 11 <= 6)  // log2(272 / 16) probes and change
    }

    @Test("no ceiling above the floor: no probe; a size outside the search is not taken as one")
    func bounds() {
        var fixed = UTPPathMTU(floor: 1180, ceiling: 1180)
        #expect(fixed.settled && fixed.nextProbeSize == nil)
        var mtu = UTPPathMTU(floor: 1180, ceiling: 1452)
        mtu.sent(sequence: 1, size: 1500)
        mtu.sent(sequence: 2, size: 1000)
        #expect(mtu.probe == nil)
        fixed.sent(sequence: 3, size: 1300)
        #expect(fixed.probe == nil)
    }

    @Test("on a 1500-byte path one probe raises every packet to 1452 bytes of payload")
    func wholeFrame() {
        let link = MemoryLink(delay: 20_000, rate: 4_000, settings: Self.probing)
        let data = UTPConnectionTests.payload(1 << 20)
        #expect(link.transfer(data).received == data)
        #expect(link.a.pathMTU.floor == 1452 && link.a.pathMTU.settled)
        #expect(link.probesSent == 1)
        #expect(link.largestDatagram == 1452 + UTPPacket.headerLength)
        #expect(link.a.retransmissions == 0)
    }

    @Test("a path that drops big packets without a word is measured, costs no congestion cut, and loses nothing",
          arguments: [1400, 1300, 1228])
    func blackHole(pathMTU: Int) {
        let data = UTPConnectionTests.payload(2 << 20)
        let reference = MemoryLink(delay: 20_000, rate: 4_000)
        let (_, referenceTook) = reference.transfer(data)
        let link = MemoryLink(delay: 20_000, rate: 4_000, settings: Self.probing)
        link.pathMTU = pathMTU
        let (received, took) = link.transfer(data)
        #expect(received == data)
        let floor = link.a.pathMTU.floor + UTPPacket.headerLength
        #expect(floor <= pathMTU && floor > pathMTU - UTPPathMTU.closeEnough - 1, "settled at \(floor)")
        // Each probe too big was lost once and sent again fragmentable; nothing else was lost.
        #expect(link.a.retransmissions == link.droppedDatagrams && link.droppedDatagrams > 0)
        // Lost probes are not congestion: the transfer keeps the pace of one on a plain link
        // (a halved window each time would take several round trips each to win back).
        let ratio = Double(took ?? .max) / Double(referenceTook ?? 1)
        #expect(ratio < 1.05, "took \(ratio)x the plain link's time")
    }

    @Test("a probe lost alone (the last packet out) lowers the ceiling without collapsing the window")
    func probeAloneTimesOut() throws {
        let link = MemoryLink(delay: 20_000, settings: Self.probing)
        #expect(link.run(for: 1_000_000) { link.a.state == .connected && link.b != nil })
        link.pathMTU = 1400
        let window = link.a.congestion.window
        let data = UTPConnectionTests.payload(1452)
        let (received, took) = link.transfer(data)
        #expect(received == data && took != nil)
        #expect(link.a.pathMTU.ceiling == 1451 && link.a.pathMTU.floor == 1180)
        #expect(link.a.retransmissions == 1)
        #expect(link.a.congestion.window >= window)
    }

    @Test("without a ceiling above the floor (IPv6) nothing is probed and no datagram exceeds 1200 bytes")
    func noProbing() {
        let link = MemoryLink(delay: 10_000, rate: 4_000)
        let data = UTPConnectionTests.payload(512 << 10)
        #expect(link.transfer(data).received == data)
        #expect(link.probesSent == 0)
        #expect(link.largestDatagram <= 1200)
    }
}
