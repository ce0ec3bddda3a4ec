import SwarmDHT
import SwarmMetainfo

/// The DHT node's handling of what the network sends: a datagram delivered as a stranger's (a
/// query to answer, or junk) and, when it decodes as KRPC, re-addressed as the answer to a query
/// the node has in flight (its transaction id put in). Whatever it holds, the node keeps its
/// bounds (table, lookups), every datagram it sends decodes as KRPC and fits one UDP packet,
/// and a lookup still finishes exactly once.
enum DHTNodeFuzzCheck {
    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        var now = ContinuousClock.now
        var sent: [(bytes: [UInt8], to: PeerAddress)] = []
        let node = DHTNode(configuration: DHTNodeConfiguration(), savedState: nil, ownID: NodeID(bytes: [UInt8](repeating: 0x42, count: 20)),
                           now: now) { bytes, address in sent.append((bytes, address)) }
        let queried = PeerAddress(host: "10.0.0.2", port: 6881)
        node.bootstrapHosts = [queried]
        var finished = 0
        let infoHash = InfoHash(bytes: [UInt8](repeating: 0x17, count: 20)) ?? InfoHash(bytes: [UInt8](repeating: 0, count: 20))!
        node.lookup(infoHash: infoHash, announcePort: 6881, now: now, found: { _ in }, finished: { finished += 1 })
        let transactionID = sent.last.flatMap { try? KRPCMessage(decoding: $0.bytes) }?.transactionID ?? []

        node.receive(input, from: PeerAddress(host: "10.0.0.3", port: 1234), now: now)
        if var message = try? KRPCMessage(decoding: input) {
            message.transactionID = transactionID
            node.receive(message.encoded(), from: queried, now: now)
        }
        // Past every query timeout and the lookup's deadline, in steps a real owner might take.
        for _ in 0..<25 {
            now = now.advanced(by: .seconds(1))
            node.tick(now: now)
        }
        try require(node.nodeCount <= RoutingTable.maxBuckets * RoutingTable.bucketSize, .dhtNode,
                    "\(node.nodeCount) nodes in the table")
        try require(finished == 1 && node.lookupCount == 0, .dhtNode,
                    "the lookup finished \(finished) times, \(node.lookupCount) still running")
        for datagram in sent {
            try require(datagram.bytes.count <= 1400, .dhtNode, "sent a datagram of \(datagram.bytes.count) bytes")
            try require((try? KRPCMessage(decoding: datagram.bytes)) != nil, .dhtNode, "sent a datagram that is not KRPC")
        }
    }
}
