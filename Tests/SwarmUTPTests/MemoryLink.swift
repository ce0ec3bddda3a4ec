import SwarmMetainfo
import SwarmUTP

/// Two uTP connections joined by an in-memory link with a manual clock: one-way delay, a
/// bottleneck rate with its queue, random loss and reordering (seeded: runs repeat exactly).
final class MemoryLink {
    /// Microseconds.
    var now: UInt64 = 1_000_000
    var a: UTPConnection
    var b: UTPConnection?
    var delay: UInt64
    /// Bytes per millisecond through the bottleneck each way (0: unlimited).
    var rate: Int
    var lossPercent: Int
    /// Percent of datagrams held back an extra 5 ms (arrive after later ones).
    var reorderPercent: Int
    /// Whether anything reaches the B side (false: a peer that never answers).
    var bReachable = true
    private var random: SplitMix64
    private var inTransit: [(at: UInt64, toB: Bool, bytes: [UInt8])] = []
    private var queueFreeAt: [Bool: UInt64] = [true: 0, false: 0]
    /// The largest datagram (uTP header included) that crosses without fragments; nil: any.
    var pathMTU: Int?
    private(set) var sentDatagrams = 0
    private(set) var probesSent = 0
    /// The largest datagram delivered (or queued to be).
    private(set) var largestDatagram = 0
    private(set) var droppedDatagrams = 0
    /// The largest queueing delay the bottleneck saw (microseconds).
    private(set) var maxQueueing: UInt64 = 0

    init(delay: UInt64 = 20_000, rate: Int = 0, lossPercent: Int = 0, reorderPercent: Int = 0, seed: UInt64 = 1,
         settings: UTPConnectionSettings = .init()) {
        self.delay = delay
        self.rate = rate
        self.lossPercent = lossPercent
        self.reorderPercent = reorderPercent
        random = SplitMix64(seed: seed)
        a = UTPConnection.connect(receiveID: 0x1234, sequence: 0xfff0, now: now, settings: settings)
        self.settings = settings
    }

    private let settings: UTPConnectionSettings

    private func nextRandom() -> UInt64 {
        random.next()
    }

    private func send(_ datagrams: [UTPDatagram], toB: Bool) {
        for datagram in datagrams {
            let bytes = datagram.bytes
            sentDatagrams += 1
            if datagram.dontFragment { probesSent += 1 }
            if toB, !bReachable { continue }
            // The path's MTU: a bigger datagram with don't-fragment is dropped without a word (a
            // black hole); without it, it crosses in fragments.
            if let pathMTU, bytes.count > pathMTU, datagram.dontFragment {
                droppedDatagrams += 1
                continue
            }
            largestDatagram = max(largestDatagram, bytes.count)
            if lossPercent > 0, Int(nextRandom() % 100) < lossPercent {
                droppedDatagrams += 1
                continue
            }
            var at = now
            if rate > 0 {
                let start = max(now, queueFreeAt[toB]!)
                maxQueueing = max(maxQueueing, start - now)
                let done = start + UInt64(bytes.count * 1000 / rate)
                queueFreeAt[toB] = done
                at = done
            }
            at += delay
            if reorderPercent > 0, Int(nextRandom() % 100) < reorderPercent { at += 5_000 }
            inTransit.append((at, toB, bytes))
        }
    }

    /// Advances the clock by `step` microseconds: delivers what is due, ticks both ends, and
    /// sends what they produced.
    func advance(_ step: UInt64 = 1_000) {
        now += step
        let due = inTransit.filter { $0.at <= now }.sorted { $0.at < $1.at }
        inTransit.removeAll { $0.at <= now }
        for datagram in due {
            guard let packet = try? UTPPacket.parse(datagram.bytes) else { continue }
            if datagram.toB {
                if let b {
                    b.receive(packet, now: now)
                } else if packet.kind == .syn {
                    b = UTPConnection.accept(packet, sequence: 0x7777, now: now, settings: settings)
                }
            } else {
                a.receive(packet, now: now)
            }
        }
        a.sendDeferredAck(now: now)
        b?.sendDeferredAck(now: now)
        a.tick(now: now)
        b?.tick(now: now)
        flush()
    }

    func flush() {
        send(a.takeDatagrams(), toB: true)
        if let b { send(b.takeDatagrams(), toB: false) }
    }

    /// Runs until `done` or `limit` microseconds have passed; whether `done` came true.
    @discardableResult
    func run(for limit: UInt64, step: UInt64 = 1_000, until done: () -> Bool) -> Bool {
        flush()
        let end = now + limit
        while now < end {
            if done() { return true }
            advance(step)
        }
        return done()
    }

    /// Sends `data` from `sender` to the other end, reading as it arrives; returns what arrived
    /// and the simulated microseconds it took (nil: not all within `limit`).
    func transfer(_ data: [UInt8], fromA: Bool = true, limit: UInt64 = 120_000_000,
                  readChunk: Int = 1 << 20) -> (received: [UInt8], took: UInt64?) {
        var offset = 0
        var received: [UInt8] = []
        received.reserveCapacity(data.count)
        let start = now
        let finished = run(for: limit) {
            guard let b else { return false }
            let (sender, receiver) = fromA ? (a, b) : (b, a)
            if offset < data.count {
                offset += sender.write(data[offset...], now: now)
            }
            received += receiver.read(readChunk, now: now)
            return received.count >= data.count
        }
        return (received, finished ? now - start : nil)
    }
}
