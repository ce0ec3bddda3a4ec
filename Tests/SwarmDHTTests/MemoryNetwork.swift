import SwarmDHT
import SwarmMetainfo

/// An in-memory datagram network for DHT nodes: what a node sends is queued, and `deliver`
/// hands queued datagrams to the node at the destination (addresses with no node swallow them).
final class MemoryNetwork {
    struct Datagram {
        var from: PeerAddress
        var to: PeerAddress
        var bytes: [UInt8]
    }

    var clock = ManualClock()
    private(set) var nodes: [PeerAddress: DHTNode] = [:]
    private(set) var queue: [Datagram] = []
    /// Datagrams to addresses with no node, for `take`.
    private(set) var undelivered: [Datagram] = []
    /// Every datagram ever sent, for assertions.
    private(set) var log: [Datagram] = []

    /// A node at 10.0.0.`index`:6881 (IPv4 nodes) or [fd00::`index`]:6881 (IPv6 nodes).
    @discardableResult
    func addNode(_ index: Int, configuration: DHTNodeConfiguration = DHTNodeConfiguration(), savedState: [UInt8]? = nil,
                 ownID: NodeID? = nil) -> DHTNode {
        let address = configuration.family == .ipv6 ? Self.address6(index) : Self.address(index)
        let node = DHTNode(configuration: configuration, savedState: savedState, ownID: ownID, now: clock.now) { [weak self] bytes, to in
            self?.queue.append(Datagram(from: address, to: to, bytes: bytes))
            self?.log.append(Datagram(from: address, to: to, bytes: bytes))
        }
        nodes[address] = node
        return node
    }

    static func address(_ index: Int) -> PeerAddress {
        PeerAddress(host: "10.0.\(index >> 8 & 0xff).\(index & 0xff)", port: 6881)
    }

    static func address6(_ index: Int) -> PeerAddress {
        PeerAddress(host: "fd00::\(String(index & 0xffff, radix: 16))", port: 6881)
    }

    /// Injects a datagram as if `from` had sent it.
    func inject(_ bytes: [UInt8], from: PeerAddress, to: PeerAddress) {
        queue.append(Datagram(from: from, to: to, bytes: bytes))
    }

    /// Takes the datagrams delivered to `address` (a node that is not in the network).
    func take(to address: PeerAddress) -> [Datagram] {
        let taken = undelivered.filter { $0.to == address }
        undelivered.removeAll { $0.to == address }
        return taken
    }

    /// Delivers until nothing is queued (bounded, so a bug cannot loop forever).
    func deliver(rounds: Int = 10_000) {
        var left = rounds
        while !queue.isEmpty, left > 0 {
            let datagram = queue.removeFirst()
            if let node = nodes[datagram.to] {
                node.receive(datagram.bytes, from: datagram.from, now: clock.now)
            } else {
                undelivered.append(datagram)
            }
            left -= 1
        }
    }

    /// Moves time on by `step`, ticking every node, `times` times, delivering in between.
    func run(_ times: Int, step: Duration = .milliseconds(250)) {
        for _ in 0..<times {
            clock.advance(by: step)
            for node in nodes.values { node.tick(now: clock.now) }
            deliver()
        }
    }
}
