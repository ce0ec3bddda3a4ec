import SwarmBencode
import SwarmDHT
import SwarmMetainfo
import Testing

@Suite("BEP 5 DHT node")
struct DHTNodeTests {
    static let infoHash = InfoHash(bytes: (0..<20).map { UInt8($0 &* 7) })!

    /// `count` nodes at 10.0.0.1... that bootstrapped through node 1.
    static func mesh(_ count: Int) -> MemoryNetwork {
        let network = MemoryNetwork()
        network.addNode(1)
        for index in 2...count {
            var configuration = DHTNodeConfiguration()
            configuration.bootstrap = [MemoryNetwork.address(1)]
            network.addNode(index, configuration: configuration)
        }
        for index in 2...count { network.nodes[MemoryNetwork.address(index)]!.bootstrap(now: network.clock.now) }
        network.run(40)
        // A second round now that node 1 knows everybody.
        for index in 2...count { network.nodes[MemoryNetwork.address(index)]!.bootstrap(now: network.clock.now) }
        network.run(40)
        return network
    }

    @Test("nodes bootstrapped through one node fill their tables")
    func bootstrapFillsTables() {
        let network = Self.mesh(12)
        // A bootstrap asks the K closest to our id and the nodes on the way: most of 11 others.
        for (address, node) in network.nodes {
            #expect(node.nodeCount >= 6, "node \(address) knows \(node.nodeCount)")
        }
        #expect(network.nodes.values.map(\.nodeCount).reduce(0, +) >= 12 * 8)
    }

    @Test("a lookup finds the peer another node announced, and reports it once")
    func announceThenLookup() {
        let network = Self.mesh(12)
        let announcer = network.nodes[MemoryNetwork.address(3)]!
        var announced = false
        announcer.lookup(infoHash: Self.infoHash, announcePort: 7000, now: network.clock.now, found: { _ in },
                         finished: { announced = true })
        network.run(40)
        #expect(announced)
        let seeker = network.nodes[MemoryNetwork.address(9)]!
        var found: [PeerAddress] = []
        var finishedCount = 0
        seeker.lookup(infoHash: Self.infoHash, announcePort: nil, now: network.clock.now, found: { found += $0 },
                      finished: { finishedCount += 1 })
        network.run(40)
        #expect(found == [PeerAddress(host: "10.0.0.3", port: 7000)])
        #expect(finishedCount == 1)
        #expect(seeker.lookupCount == 0)
    }

    @Test("a lookup among silent nodes ends after the timeouts, finished once")
    func silentNodes() {
        let network = MemoryNetwork()
        var configuration = DHTNodeConfiguration()
        configuration.bootstrap = (50..<60).map(MemoryNetwork.address)  // nobody there
        let node = network.addNode(1, configuration: configuration)
        var finishedCount = 0
        node.lookup(infoHash: Self.infoHash, announcePort: 1, now: network.clock.now, found: { _ in },
                    finished: { finishedCount += 1 })
        network.run(4)
        #expect(finishedCount == 0)
        network.run(200)
        #expect(finishedCount == 1)
        #expect(node.nodeCount == 0)
        // Ten hosts, each asked once.
        #expect(network.log.count == 10)
    }

    @Test("a cancelled lookup finishes at once, once, and announces nothing")
    func cancel() {
        let network = MemoryNetwork()
        var configuration = DHTNodeConfiguration()
        configuration.bootstrap = [MemoryNetwork.address(50)]  // nobody there
        let node = network.addNode(1, configuration: configuration)
        var finishedCount = 0
        let id = node.lookup(infoHash: Self.infoHash, announcePort: 1, now: network.clock.now, found: { _ in },
                             finished: { finishedCount += 1 })
        node.cancelLookup(id)
        #expect(finishedCount == 1 && node.lookupCount == 0)
        node.cancelLookup(id)
        network.run(100)
        #expect(finishedCount == 1)
        // The one get_peers, and no announce_peer after it.
        #expect(network.log.count == 1)
    }

    @Test("a lookup is bounded in time even when the network keeps naming new nodes")
    func lookupDeadline() {
        let network = Self.mesh(30)
        let node = network.nodes[MemoryNetwork.address(5)]!
        var finished = false
        node.lookup(infoHash: Self.infoHash, announcePort: nil, now: network.clock.now, found: { _ in },
                    finished: { finished = true })
        network.run(Int(20 / 0.25) + 1)
        #expect(finished)
    }

    @Test("announce_peer with a wrong token is refused with error 203 and stores nothing")
    func badToken() throws {
        let network = Self.mesh(3)
        let target = MemoryNetwork.address(1)
        let stranger = PeerAddress(host: "10.9.9.9", port: 1234)
        let strangerID = NodeID(bytes: [UInt8](repeating: 9, count: 20))!
        let announce = KRPCMessage(transactionID: [1, 2], body: .query(.announcePeer(
            id: strangerID, infoHash: Self.infoHash, port: 5555, impliedPort: false, token: [1, 2, 3, 4, 5, 6, 7, 8])))
        network.inject(announce.encoded(), from: stranger, to: target)
        network.deliver()
        let replies = network.take(to: stranger).map { try? KRPCMessage(decoding: $0.bytes) }
        guard case let .error(code, _)? = replies.first??.body else {
            Issue.record("expected an error, got \(replies)")
            return
        }
        #expect(code == 203)
        // A get_peers from the stranger: a token, and no values.
        let getPeers = KRPCMessage(transactionID: [3, 4], body: .query(.getPeers(id: strangerID, infoHash: Self.infoHash)))
        network.inject(getPeers.encoded(), from: stranger, to: target)
        network.deliver()
        let answer = try KRPCMessage(decoding: network.take(to: stranger).first!.bytes)
        guard case let .response(response) = answer.body, let token = response.token else {
            Issue.record("expected a response with a token")
            return
        }
        #expect(response.values.isEmpty)
        // Now with the right token, on the implied port: stored and handed out.
        let good = KRPCMessage(transactionID: [5, 6], body: .query(.announcePeer(
            id: strangerID, infoHash: Self.infoHash, port: 0, impliedPort: true, token: token)))
        network.inject(good.encoded(), from: stranger, to: target)
        network.inject(getPeers.encoded(), from: stranger, to: target)
        network.deliver()
        let last = try KRPCMessage(decoding: network.take(to: stranger).last!.bytes)
        guard case let .response(values) = last.body else {
            Issue.record("expected a response")
            return
        }
        #expect(values.values == [stranger])
    }

    @Test("a flood of queries from one source is answered up to the per-source burst")
    func rateLimit() {
        let network = MemoryNetwork()
        network.addNode(1)
        let flooder = PeerAddress(host: "10.7.7.7", port: 99)
        for index in 0..<50 {
            let ping = KRPCMessage(transactionID: [UInt8(index)], body: .query(.ping(id: NodeID(bytes: [UInt8](repeating: 7, count: 20))!)))
            network.inject(ping.encoded(), from: flooder, to: MemoryNetwork.address(1))
        }
        network.deliver()
        #expect(network.take(to: flooder).count == DHTRateLimiter().perSourceBurst)
        network.clock.advance(by: .seconds(1))
        let ping = KRPCMessage(transactionID: [1], body: .query(.ping(id: NodeID(bytes: [UInt8](repeating: 7, count: 20))!)))
        network.inject(ping.encoded(), from: flooder, to: MemoryNetwork.address(1))
        network.deliver()
        #expect(network.take(to: flooder).count == 1)
    }

    @Test("garbage, unknown methods and unsolicited responses are survived")
    func hostileInput() throws {
        let network = MemoryNetwork()
        let node = network.addNode(1)
        let evil = PeerAddress(host: "10.6.6.6", port: 66)
        network.inject(Array("d1:t2:ab1:y1:q1:q4:ping1:ai0ee".utf8), from: evil, to: MemoryNetwork.address(1))
        network.inject(Array("not bencode".utf8), from: evil, to: MemoryNetwork.address(1))
        let unknown = KRPCMessage(transactionID: [9], body: .query(.unknown(method: Array("vote".utf8), id: nil)))
        network.inject(unknown.encoded(), from: evil, to: MemoryNetwork.address(1))
        let unsolicited = KRPCMessage(transactionID: [0, 1], body: .response(KRPCResponse(
            id: NodeID(bytes: [UInt8](repeating: 6, count: 20))!, values: [PeerAddress(host: "1.2.3.4", port: 5)])))
        network.inject(unsolicited.encoded(), from: evil, to: MemoryNetwork.address(1))
        network.deliver()
        let codes = network.take(to: evil).compactMap { datagram -> Int64? in
            guard case let .error(code, _)? = (try? KRPCMessage(decoding: datagram.bytes))?.body else { return nil }
            return code
        }
        #expect(codes == [203, 204])
        #expect(node.nodeCount == 0)
        #expect(node.statistics.datagramsDropped == 3)
    }

    @Test("the saved table is the next run's bootstrap")
    func savedTable() {
        let network = Self.mesh(12)
        let old = network.nodes[MemoryNetwork.address(4)]!
        let state = old.savedState(now: network.clock.now)
        let restarted = network.addNode(4, savedState: state)
        #expect(restarted.nodeID == old.nodeID)
        #expect(restarted.nodeCount == old.nodeCount)
        #expect(restarted.bootstrap(now: network.clock.now) == .savedTable(nodes: min(16, old.nodeCount), hosts: 0))
        let fresh = MemoryNetwork().addNode(1)
        #expect(fresh.bootstrap(now: .now) == .nothing)
    }

    @Test("five responders naming one public address give us a BEP 42 id for it, the table kept")
    func secureID() throws {
        let network = MemoryNetwork()
        let node = network.addNode(1, ownID: NodeID(bytes: [UInt8](repeating: 0x55, count: 20))!)
        let external = try #require(IPAddress(text: "203.0.113.7"))
        #expect(!node.nodeID.isBEP42Valid(for: external))
        let responders = (0..<5).map { PeerAddress(host: "10.1.0.\($0 + 1)", port: 7000) }
        for responder in responders { node.addNode(responder, now: network.clock.now) }
        network.deliver()
        for (index, responder) in responders.enumerated() {
            let ping = try #require(network.take(to: responder).first)
            let query = try KRPCMessage(decoding: ping.bytes)
            let id = NodeID(bytes: [UInt8](repeating: UInt8(0x80 + index), count: 20))!
            let reply = KRPCMessage(transactionID: query.transactionID, body: .response(KRPCResponse(id: id)),
                                    requesterAddress: PeerAddress(ip: external, port: 6881))
            network.inject(reply.encoded(), from: responder, to: MemoryNetwork.address(1))
            network.deliver()
            #expect(node.nodeCount == index + 1)
        }
        #expect(node.externalAddress == external)
        #expect(node.nodeID.isBEP42Valid(for: external))
        #expect(node.nodeCount == 5)
    }

    @Test("the peer store keeps its bounds and forgets expired peers")
    func peerStore() {
        var clock = ManualClock()
        var store = DHTPeerStore(maxInfoHashes: 2, maxPeersPerInfoHash: 3, lifetime: .seconds(60))
        let hashes = (1...3).map { seed in InfoHash(bytes: [UInt8](repeating: UInt8(seed), count: 20))! }
        for port in 1...5 { store.add(PeerAddress(host: "10.0.0.1", port: UInt16(port)), for: hashes[0], now: clock.now) }
        #expect(store.peers(for: hashes[0], limit: 10, now: clock.now).count == 3)
        let second = store.add(PeerAddress(host: "10.0.0.2", port: 1), for: hashes[1], now: clock.now)
        let third = store.add(PeerAddress(host: "10.0.0.3", port: 1), for: hashes[2], now: clock.now)
        #expect(second && !third)
        clock.advance(by: .seconds(61))
        #expect(store.peers(for: hashes[0], limit: 10, now: clock.now).isEmpty)
        let afterExpiry = store.add(PeerAddress(host: "10.0.0.3", port: 1), for: hashes[2], now: clock.now)
        #expect(afterExpiry && store.infoHashCount == 1)
    }
}
