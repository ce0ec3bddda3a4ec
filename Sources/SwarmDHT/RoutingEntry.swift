/// How much a node can be trusted to answer (BEP 5).
public enum NodeState: Sendable, Hashable {
    /// Answered one of our queries in the last 15 minutes, or has answered once and queried us
    /// in the last 15 minutes.
    case good
    /// Not known to be good or bad: never answered, or silent for 15 minutes.
    case questionable
    /// Failed to answer `RoutingTable.maxFailures` queries in a row.
    case bad
}

/// A node in the routing table and what we know of its liveness.
public struct RoutingEntry: Sendable, Hashable {
    /// The node.
    public internal(set) var contact: NodeContact
    /// When it last answered one of our queries.
    public internal(set) var lastResponse: ContinuousClock.Instant?
    /// When it last sent us a query.
    public internal(set) var lastQuery: ContinuousClock.Instant?
    /// Queries it failed to answer since it last answered one.
    public internal(set) var failures: Int = 0

    init(contact: NodeContact) {
        self.contact = contact
    }

    /// Its state at `now`.
    public func state(at now: ContinuousClock.Instant) -> NodeState {
        if failures >= RoutingTable.maxFailures { return .bad }
        guard let lastResponse else { return .questionable }
        if now - lastResponse < RoutingTable.goodInterval { return .good }
        if let lastQuery, now - lastQuery < RoutingTable.goodInterval { return .good }
        return .questionable
    }

    /// The later of its last answer and its last query; nil if it did neither.
    var lastSeen: ContinuousClock.Instant? {
        switch (lastResponse, lastQuery) {
        case let (response?, query?): max(response, query)
        case let (response?, nil): response
        case let (nil, query?): query
        case (nil, nil): nil
        }
    }

    /// Records how we heard from the node at `now`.
    mutating func record(_ event: RoutingTable.Event, now: ContinuousClock.Instant) {
        switch event {
        case .responded:
            lastResponse = now
            failures = 0
        case .queried:
            lastQuery = now
        case .heardOf:
            break
        }
    }
}

/// One k-bucket: up to `RoutingTable.bucketSize` nodes and as many replacements waiting for a
/// place. Which ids belong to it is the table's business (its index).
///
/// Invariant: `entries` and `replacements` hold at most `RoutingTable.bucketSize` each, and no
/// id or address is in both.
struct RoutingBucket: Sendable {
    var entries: [RoutingEntry] = []
    /// Oldest first; the newest is promoted first.
    var replacements: [RoutingEntry] = []
    /// When a node was last added, replaced or heard to answer (BEP 5's "last changed").
    var lastChanged: ContinuousClock.Instant

    init(lastChanged: ContinuousClock.Instant) {
        self.lastChanged = lastChanged
    }

    var isFull: Bool { entries.count >= RoutingTable.bucketSize }

    /// Adds or refreshes `entry` among the replacements, dropping the oldest when full.
    mutating func cache(_ entry: RoutingEntry) {
        replacements.removeAll { $0.contact.id == entry.contact.id || $0.contact.address == entry.contact.address }
        replacements.append(entry)
        if replacements.count > RoutingTable.bucketSize { replacements.removeFirst() }
    }

    /// Takes the best replacement: the newest that has answered us, else the newest.
    mutating func takeReplacement() -> RoutingEntry? {
        if let index = replacements.lastIndex(where: { $0.lastResponse != nil }) {
            return replacements.remove(at: index)
        }
        return replacements.popLast()
    }
}
