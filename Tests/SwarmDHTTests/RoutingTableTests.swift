import SwarmDHT
import SwarmMetainfo
import Testing

@Suite("BEP 5 routing table")
struct RoutingTableTests {
    static let own = NodeID(hex: "0000000000000000000000000000000000000000")

    /// An id sharing exactly `prefix` leading bits with `own` (all zero), varied by `tag`.
    static func id(prefix: Int, tag: UInt8) -> NodeID {
        var bytes = [UInt8](repeating: 0, count: 20)
        bytes[prefix / 8] |= 0x80 >> UInt8(prefix % 8)
        bytes[19] |= tag  // low bits only, below any prefix we use
        return NodeID(bytes: bytes)!
    }

    @Test("an empty table takes 8 nodes in one bucket, then splits on our side")
    func splitting() {
        var clock = ManualClock()
        var table = RoutingTable(ownID: Self.own, now: clock.now)
        for tag in 0..<8 {
            #expect(table.observe(contact(Self.id(prefix: 0, tag: UInt8(tag)), tag), .responded, now: clock.now) == .added)
        }
        #expect(table.bucketCount == 1 && table.count == 8)
        clock.advance(by: .seconds(1))
        // A ninth far node: the only bucket holds our id, so it splits; the far half is full of good nodes.
        let far = contact(Self.id(prefix: 0, tag: 8), 8)
        #expect(table.observe(far, .responded, now: clock.now) == .cached(ping: nil))
        #expect(table.bucketCount == 2)
        #expect(table.replacements.map(\.contact) == [far])
        // A near node goes to the new bucket, which holds our id.
        #expect(table.observe(contact(Self.id(prefix: 5, tag: 1), 100), .heardOf, now: clock.now) == .added)
        #expect(table.bucketIndex(for: Self.id(prefix: 5, tag: 1)) == 1)
        // Eight nodes sharing 5 bits: the last bucket fills, then splits down to bucket 5.
        for tag in 2..<10 {
            _ = table.observe(contact(Self.id(prefix: 5, tag: UInt8(tag)), 100 + tag), .responded, now: clock.now)
        }
        #expect(table.bucketCount == 7)
        #expect(table.entries(inBucket: 5).count == 8 && table.entries(inBucket: 1).isEmpty)
        #expect(table.count == 16)
    }

    @Test("nodes age from good to questionable by the clock; a query keeps an answering node good")
    func states() throws {
        var clock = ManualClock()
        var table = RoutingTable(ownID: Self.own, now: clock.now)
        let node = contact(Self.id(prefix: 3, tag: 1), 1)
        _ = table.observe(node, .responded, now: clock.now)
        #expect(try #require(table.entry(for: node.id)).state(at: clock.now) == .good)
        clock.advance(by: .seconds(14 * 60 + 59))
        #expect(try #require(table.entry(for: node.id)).state(at: clock.now) == .good)
        clock.advance(by: .seconds(1))
        #expect(try #require(table.entry(for: node.id)).state(at: clock.now) == .questionable)
        #expect(table.observe(node, .queried, now: clock.now) == .updated)
        #expect(try #require(table.entry(for: node.id)).state(at: clock.now) == .good, "answered once and queried us lately")
        let silent = contact(Self.id(prefix: 3, tag: 2), 2)
        _ = table.observe(silent, .queried, now: clock.now)
        #expect(try #require(table.entry(for: silent.id)).state(at: clock.now) == .questionable, "never answered us")
        table.failed(node.id, now: clock.now)
        #expect(try #require(table.entry(for: node.id)).state(at: clock.now) == .good, "one failure is not enough")
        table.failed(node.id, now: clock.now)
        #expect(try #require(table.entry(for: node.id)).state(at: clock.now) == .bad)
        #expect(table.observe(node, .responded, now: clock.now) == .updated)
        #expect(try #require(table.entry(for: node.id)).state(at: clock.now) == .good, "an answer clears the failures")
    }

    /// A table whose far bucket (0) is full of 8 nodes heard from at `clock.now`, with our side split off.
    static func fullFarBucket(_ clock: ManualClock, _ event: RoutingTable.Event) -> RoutingTable {
        var table = RoutingTable(ownID: own, now: clock.now)
        _ = table.observe(contact(id(prefix: 9, tag: 1), 999), .responded, now: clock.now)
        for tag in 0..<8 { _ = table.observe(contact(id(prefix: 0, tag: UInt8(tag)), tag), event, now: clock.now) }
        // The ninth far node splits the only bucket; the far half stays full.
        _ = table.observe(contact(id(prefix: 0, tag: 8), 8), event, now: clock.now)
        return table
    }

    @Test("a full bucket of questionable nodes names the stalest to ping; two failures let a replacement in")
    func replacement() {
        var clock = ManualClock()
        var table = Self.fullFarBucket(clock, .heardOf)
        #expect(table.entries(inBucket: 0).count == 8)
        clock.advance(by: .seconds(60))
        _ = table.observe(contact(Self.id(prefix: 0, tag: 3), 3), .queried, now: clock.now)
        let newcomer = contact(Self.id(prefix: 0, tag: 20), 20)
        guard case let .cached(ping?) = table.observe(newcomer, .responded, now: clock.now) else {
            Issue.record("expected a ping suggestion")
            return
        }
        #expect(ping.id != Self.id(prefix: 0, tag: 3), "the node that just queried us is not the stalest")
        #expect(table.failed(ping.id, now: clock.now) == nil)
        #expect(table.failed(ping.id, now: clock.now) == newcomer, "the replacement that answered us comes in")
        #expect(table.entry(for: ping.id) == nil && table.entry(for: newcomer.id) != nil)
        #expect(table.entries(inBucket: 0).count == 8)
    }

    @Test("a full bucket of good nodes keeps them; a bad node is replaced by a newcomer at once")
    func goodNodesStay() {
        var clock = ManualClock()
        var table = Self.fullFarBucket(clock, .responded)
        clock.advance(by: .seconds(5))
        let newcomer = contact(Self.id(prefix: 0, tag: 30), 30)
        #expect(table.observe(newcomer, .responded, now: clock.now) == .cached(ping: nil))
        let victim = Self.id(prefix: 0, tag: 2)
        table.failed(victim, now: clock.now)
        table.failed(victim, now: clock.now)
        #expect(table.entry(for: victim) == nil && table.entry(for: newcomer.id) != nil, "the cached newcomer took the place")
        let another = Self.id(prefix: 0, tag: 4)
        table.failed(another, now: clock.now)
        #expect(table.failed(another, now: clock.now) == contact(Self.id(prefix: 0, tag: 8), 8), "the last replacement")
        let third = Self.id(prefix: 0, tag: 5)
        table.failed(third, now: clock.now)
        #expect(table.failed(third, now: clock.now) == nil, "no replacement left: the bad node stays for now")
        #expect(table.entry(for: third)?.state(at: clock.now) == .bad)
        #expect(!table.closest(to: third, count: 20, now: clock.now).contains { $0.id == third }, "bad nodes are not handed out")
        let late = contact(Self.id(prefix: 0, tag: 31), 31)
        #expect(table.observe(late, .heardOf, now: clock.now) == .added)
        #expect(table.entry(for: third) == nil && table.entries(inBucket: 0).count == 8)
    }

    @Test("our own id, an id at a new address and a second id at a known address are ignored")
    func ignored() {
        let now = ContinuousClock.now
        var table = RoutingTable(ownID: Self.own, now: now)
        #expect(table.observe(contact(Self.own, 1), .responded, now: now) == .ignored)
        let node = contact(Self.id(prefix: 4, tag: 1), 1)
        #expect(table.observe(node, .responded, now: now) == .added)
        #expect(table.observe(contact(node.id, 2), .responded, now: now) == .ignored, "the id moved: not believed")
        #expect(table.observe(contact(Self.id(prefix: 6, tag: 1), 1), .responded, now: now) == .ignored, "same address")
        #expect(table.count == 1)
        table.failed(node.id, now: now)
        table.failed(node.id, now: now)
        #expect(table.observe(contact(node.id, 2), .responded, now: now) == .updated, "the old address went bad")
        #expect(table.entry(for: node.id)?.contact == contact(node.id, 2))
    }

    @Test("closest returns nodes that are not bad, nearest first")
    func closest() throws {
        var generator = SplitMix64(seed: 3)
        let now = ContinuousClock.now
        var table = RoutingTable(ownID: NodeID.random(using: &generator), now: now)
        for index in 0..<500 { _ = table.observe(contact(NodeID.random(using: &generator), index), .responded, now: now) }
        let target = NodeID.random(using: &generator)
        let closest = table.closest(to: target, count: 8, now: now)
        #expect(closest.count == 8)
        let everything = table.entries.map(\.contact).sorted { $0.id.distance(to: target) < $1.id.distance(to: target) }
        #expect(closest == Array(everything.prefix(8)))
        table.failed(closest[0].id, now: now)
        table.failed(closest[0].id, now: now)
        let after = table.closest(to: target, count: 8, now: now)
        #expect(!after.contains(closest[0]) || table.entry(for: closest[0].id) == nil)
        #expect(table.closest(to: target, count: 0, now: now).isEmpty && table.closest(to: target, count: -3, now: now).isEmpty)
        #expect(table.closest(to: target, count: 10_000, now: now).count <= table.count)
    }

    @Test("thousands of nodes keep the table within its bounds and every node in its bucket")
    func bounds() {
        var generator = SplitMix64(seed: 11)
        var clock = ManualClock()
        let own = NodeID.random(using: &generator)
        var table = RoutingTable(ownID: own, now: clock.now)
        for index in 0..<20_000 {
            // Half of them close to us, so the table grows deep.
            let id = index % 2 == 0 ? NodeID.random(using: &generator)
                : own.random(sharingPrefix: index % 40, flipNext: true, using: &generator)
            let event: RoutingTable.Event = [.responded, .queried, .heardOf][index % 3]
            _ = table.observe(contact(id, index), event, now: clock.now)
            if index % 7 == 0 { table.failed(id, now: clock.now) }
            if index % 1000 == 0 { clock.advance(by: .seconds(300)) }
        }
        #expect(table.bucketCount <= RoutingTable.maxBuckets && table.bucketCount > 20)
        #expect(table.count <= RoutingTable.maxBuckets * RoutingTable.bucketSize)
        var ids = Set<NodeID>()
        for index in 0..<table.bucketCount {
            #expect(table.entries(inBucket: index).count <= 8 && table.replacements(inBucket: index).count <= 8)
            for entry in table.entries(inBucket: index) + table.replacements(inBucket: index) {
                #expect(table.bucketIndex(for: entry.contact.id) == index)
                #expect(ids.insert(entry.contact.id).inserted)
            }
        }
    }

    @Test("buckets unchanged for 15 minutes ask for a refresh with an id in their range")
    func refresh() {
        var clock = ManualClock()
        var generator = SplitMix64(seed: 5)
        var table = Self.fullFarBucket(clock, .responded)
        #expect(table.bucketsNeedingRefresh(now: clock.now).isEmpty)
        clock.advance(by: .seconds(15 * 60))
        #expect(table.bucketsNeedingRefresh(now: clock.now) == [0, 1])
        _ = table.observe(contact(Self.id(prefix: 12, tag: 1), 500), .responded, now: clock.now)
        #expect(table.bucketsNeedingRefresh(now: clock.now) == [0])
        for _ in 0..<50 {
            #expect(table.bucketIndex(for: table.refreshTarget(bucket: 0, using: &generator)) == 0)
            #expect(table.bucketIndex(for: table.refreshTarget(bucket: 1, using: &generator)) == 1)
        }
        table.touchBucket(of: Self.id(prefix: 0, tag: 1), now: clock.now)
        #expect(table.bucketsNeedingRefresh(now: clock.now).isEmpty)
    }

    @Test("the table saves and restores its id and nodes; bad nodes are not saved")
    func persistence() throws {
        var generator = SplitMix64(seed: 9)
        let now = ContinuousClock.now
        var table = RoutingTable(ownID: NodeID.random(using: &generator), now: now)
        for index in 0..<300 {
            let ip = index % 3 == 0 ? IPAddress(text: "2001:db8::\(String(index, radix: 16))")!
                : IPAddress(bytes: [10, 0, UInt8(index >> 8), UInt8(index & 0xff)])!
            _ = table.observe(NodeContact(id: .random(using: &generator), ip: ip, port: UInt16(1000 + index)), .responded, now: now)
        }
        let bad = try #require(table.entries.first).contact
        table.failed(bad.id, now: now)
        table.failed(bad.id, now: now)
        let saved = table.serialised(now: now)
        let restored = try RoutingTable(restoring: saved, now: now)
        #expect(restored.ownID == table.ownID)
        let kept = Set(table.entries.map(\.contact)).subtracting(table.entry(for: bad.id) == nil ? [] : [bad])
        #expect(Set(restored.entries.map(\.contact)) == kept)
        #expect(restored.entries.allSatisfy { $0.state(at: now) == .questionable }, "not heard from in this run")
        let newID = NodeID.random(using: &generator)
        #expect(try RoutingTable(restoring: saved, ownID: newID, now: now).ownID == newID)
    }

    @Test("hostile saved state is refused")
    func hostileState() {
        let now = ContinuousClock.now
        let id = String(repeating: "i", count: 20)
        #expect(throws: RoutingTable.StateError.unsupportedVersion(2)) {
            try RoutingTable(restoring: Array("d2:id20:\(id)1:vi2ee".utf8), now: now)
        }
        for text in ["", "le", "d1:vi1ee", "d2:id19:\(id.dropLast())1:vi1ee", "d2:id20:\(id)5:nodes25:\(String(repeating: "n", count: 25))1:vi1ee",
                     "d2:id20:\(id)6:nodes6i1e1:vi1ee", "d2:id20:\(id)1:v1:1e", "d2:id20:\(id)1:vi1e1:xd1:ad1:ai1eeeee"] {
            #expect(throws: RoutingTable.StateError.self, "\(text)") { try RoutingTable(restoring: Array(text.utf8), now: now) }
        }
        #expect(throws: RoutingTable.StateError.tooLarge(length: RoutingTable.maxStateLength + 1)) {
            try RoutingTable(restoring: [UInt8](repeating: 0x64, count: RoutingTable.maxStateLength + 1), now: now)
        }
        // A state holding far more nodes than fit: the table keeps its bounds.
        var nodes: [UInt8] = []
        var generator = SplitMix64(seed: 1)
        for index in 0..<1500 {
            nodes += NodeID.random(using: &generator).bytes + [10, UInt8(index >> 16), UInt8(index >> 8 & 0xff), UInt8(index & 0xff), 0, 1]
        }
        let state = Array("d2:id20:\(id)5:nodes\(nodes.count):".utf8) + nodes + Array("1:vi1ee".utf8)
        let table = try? RoutingTable(restoring: state, now: now)
        #expect(table != nil && table!.count < 200)
    }
}
