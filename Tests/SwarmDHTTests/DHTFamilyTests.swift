import SwarmDHT
import SwarmMetainfo
import Testing

/// BEP 32: an IPv6 node is a DHT of its own — it files, asks and names IPv6 nodes only (`nodes6`),
/// and an IPv4 node never strays into IPv6.
@Suite("DHT address families (BEP 32)")
struct DHTFamilyTests {
    static let infoHash = InfoHash(bytes: (0..<20).map { UInt8($0 &* 11) })!

    static func ipv6Configuration(bootstrap: [PeerAddress] = []) -> DHTNodeConfiguration {
        var configuration = DHTNodeConfiguration()
        configuration.family = .ipv6
        configuration.bootstrap = bootstrap
        return configuration
    }

    @Test("IPv6 nodes bootstrap, announce and find each other, naming nodes in nodes6")
    func ipv6Mesh() {
        let network = MemoryNetwork()
        network.addNode(1, configuration: Self.ipv6Configuration())
        for index in 2...10 {
            network.addNode(index, configuration: Self.ipv6Configuration(bootstrap: [MemoryNetwork.address6(1)]))
        }
        for round in 0..<2 {
            for index in 2...10 { network.nodes[MemoryNetwork.address6(index)]!.bootstrap(now: network.clock.now) }
            network.run(40)
            _ = round
        }
        for node in network.nodes.values { #expect(node.nodeCount >= 5) }
        network.nodes[MemoryNetwork.address6(3)]!.lookup(infoHash: Self.infoHash, announcePort: 7000,
                                                          now: network.clock.now, found: { _ in }, finished: {})
        network.run(40)
        var found: [PeerAddress] = []
        network.nodes[MemoryNetwork.address6(8)]!.lookup(infoHash: Self.infoHash, announcePort: nil,
                                                          now: network.clock.now, found: { found += $0 }, finished: {})
        network.run(40)
        #expect(found == [PeerAddress(ip: MemoryNetwork.address6(3).ipAddress!, port: 7000)])
        #expect(network.log.allSatisfy { $0.to.ipAddress?.isIPv4 == false })
        let answers = network.log.map { String(decoding: $0.bytes, as: UTF8.self) }
        #expect(answers.contains { $0.contains("6:nodes6") })
        #expect(!answers.contains { $0.contains("5:nodes") })
    }

    @Test("an IPv6 node asks no IPv4 node and files none that queries it")
    func ipv6NodeIgnoresIPv4() {
        let network = MemoryNetwork()
        let node = network.addNode(1, configuration: Self.ipv6Configuration())
        node.addNode(PeerAddress(host: "10.0.0.9", port: 6881), now: network.clock.now)
        #expect(network.log.isEmpty)
        let query = KRPCMessage(transactionID: [1, 2], body: .query(.ping(id: NodeID(bytes: Array(repeating: 9, count: 20))!)))
        network.inject(query.encoded(), from: PeerAddress(host: "10.0.0.9", port: 6881), to: MemoryNetwork.address6(1))
        network.deliver()
        #expect(node.nodeCount == 0)
        // An IPv6 node that queries it is filed.
        network.inject(query.encoded(), from: MemoryNetwork.address6(9), to: MemoryNetwork.address6(1))
        network.deliver()
        #expect(node.nodeCount == 1)
    }

    @Test("an IPv4 node asks no IPv6 node")
    func ipv4NodeIgnoresIPv6() {
        let network = MemoryNetwork()
        let node = network.addNode(1)
        node.addNode(MemoryNetwork.address6(2), now: network.clock.now)
        #expect(network.log.isEmpty)
        node.addNode(MemoryNetwork.address(2), now: network.clock.now)
        #expect(network.log.count == 1)
    }
}
