import SwarmMetainfo

/// What a query we sent was for, so its answer (or silence) goes to the right place.
enum DHTQueryPurpose: Sendable, Hashable {
    /// A `ping`: liveness of a table node, or of a node a peer named (`port` message).
    case ping
    /// A query of iterative lookup `lookup`.
    case lookup(UInt64)
    /// An `announce_peer` at the end of a lookup.
    case announce
}

/// A query waiting for its answer.
struct DHTPendingQuery: Sendable {
    /// Where it went: only an answer from there is accepted.
    var address: PeerAddress
    /// The id we believe the node has (nil for a bootstrap host or a node named by a peer).
    var nodeID: NodeID?
    var purpose: DHTQueryPurpose
    var sentAt: ContinuousClock.Instant
}

/// The queries in flight, by transaction id: 2-byte ids (BEP 5: "typically 2 characters are
/// enough"), counted up from a random start so that an id is not reused before 65536 others.
///
/// Invariants: at most `capacity` queries are outstanding; every one is dropped by `expire` once
/// `timeout` has passed since it was sent, so an id is never held forever.
struct DHTTransactions: Sendable {
    /// Queries in flight at once, all purposes together.
    let capacity: Int
    /// How long an answer is waited for.
    let timeout: Duration
    private var pending: [UInt16: DHTPendingQuery] = [:]
    private var nextID: UInt16

    init(capacity: Int, timeout: Duration, firstID: UInt16) {
        self.capacity = capacity
        self.timeout = timeout
        nextID = firstID
    }

    var count: Int { pending.count }
    var hasRoom: Bool { pending.count < capacity }

    /// Registers a query and returns its transaction id; nil when `capacity` are in flight.
    mutating func begin(_ query: DHTPendingQuery) -> [UInt8]? {
        guard hasRoom else { return nil }
        // Skip ids still in flight (only possible after 65536 queries within one timeout).
        while pending[nextID] != nil { nextID &+= 1 }
        let id = nextID
        nextID &+= 1
        pending[id] = query
        return [UInt8(id >> 8), UInt8(id & 0xff)]
    }

    /// The query `transactionID` answers, if one from `address` is pending; it is no longer pending.
    mutating func finish(_ transactionID: [UInt8], from address: PeerAddress) -> DHTPendingQuery? {
        guard transactionID.count == 2 else { return nil }
        let id = UInt16(transactionID[0]) << 8 | UInt16(transactionID[1])
        guard let query = pending[id], query.address == address else { return nil }
        pending[id] = nil
        return query
    }

    /// True when a query of `purpose` to `address` is in flight (no second ping to a silent node).
    func isPending(to address: PeerAddress, purpose: DHTQueryPurpose) -> Bool {
        pending.values.contains { $0.address == address && $0.purpose == purpose }
    }

    /// Removes and returns the queries older than `timeout` at `now`.
    mutating func expire(now: ContinuousClock.Instant) -> [DHTPendingQuery] {
        let late = pending.filter { now - $0.value.sentAt >= timeout }
        for id in late.keys { pending[id] = nil }
        return Array(late.values)
    }
}
