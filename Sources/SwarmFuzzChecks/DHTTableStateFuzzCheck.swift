import SwarmDHT

/// The saved DHT routing table: a restored table keeps its bounds (at most 160 buckets of 8
/// nodes and 8 replacements), files every node in the bucket its id names, never holds our id
/// or an id or address twice; saving and restoring it gives the same nodes; `closest` returns
/// nodes in order of distance.
enum DHTTableStateFuzzCheck {
    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        let now = ContinuousClock.now
        guard let table = try? RoutingTable(restoring: input, now: now) else { return }
        try checkBounds(table)
        let saved = table.serialised(now: now)
        let restored: RoutingTable
        do {
            restored = try RoutingTable(restoring: saved, now: now)
        } catch {
            throw FuzzInvariantViolation(target: .dhtTableState, detail: "its own state does not restore: \(error)")
        }
        try require(restored.ownID == table.ownID, .dhtTableState, "restoring changed our id")
        try require(Set(restored.entries.map(\.contact)) == Set(table.entries.map(\.contact)), .dhtTableState,
                    "save -> restore changed the nodes (\(table.count) -> \(restored.count))")
        let closest = table.closest(to: table.ownID, count: RoutingTable.bucketSize, now: now)
        try require(closest.count == min(RoutingTable.bucketSize, table.count), .dhtTableState,
                    "closest gave \(closest.count) of \(table.count) nodes")
        let distances = closest.map { $0.id.distance(to: table.ownID) }
        try require(distances == distances.sorted(), .dhtTableState, "closest is not in order of distance")
    }

    private static func checkBounds(_ table: RoutingTable) throws(FuzzInvariantViolation) {
        try require((1...RoutingTable.maxBuckets).contains(table.bucketCount), .dhtTableState,
                    "\(table.bucketCount) buckets")
        var ids = Set<NodeID>()
        var addresses = Set<String>()
        for index in 0..<table.bucketCount {
            let entries = table.entries(inBucket: index)
            let replacements = table.replacements(inBucket: index)
            try require(entries.count <= RoutingTable.bucketSize && replacements.count <= RoutingTable.bucketSize,
                        .dhtTableState, "bucket \(index) holds \(entries.count) + \(replacements.count)")
            for entry in entries + replacements {
                let contact = entry.contact
                try require(contact.id != table.ownID, .dhtTableState, "our own id is in the table")
                try require(table.bucketIndex(for: contact.id) == index, .dhtTableState,
                            "\(contact) is in bucket \(index), not \(table.bucketIndex(for: contact.id))")
                try require(ids.insert(contact.id).inserted && addresses.insert(contact.address.description).inserted,
                            .dhtTableState, "\(contact) repeats an id or address")
            }
        }
    }
}
