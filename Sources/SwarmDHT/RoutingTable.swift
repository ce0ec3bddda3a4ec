/// The BEP 5 routing table: k-buckets of up to 8 nodes over the 160-bit id space, more detailed
/// close to our own id. Pure bookkeeping; the caller sends the pings it suggests and reports
/// answers and silences, with the time from its clock.
///
/// Buckets are indexed by the length of the prefix a node's id shares with ours: bucket `i`
/// (for `i` below the last index) holds ids sharing exactly `i` leading bits; the last bucket
/// holds the rest, the part of the space that contains our id. When the last bucket is full
/// and a node belongs in it, it splits (BEP 5: only the bucket containing our id splits).
///
/// Invariants:
/// - 1 <= `buckets.count` <= `maxBuckets`; every bucket holds at most `bucketSize` entries and
///   `bucketSize` replacements, so the table holds at most `maxBuckets * bucketSize` nodes;
/// - every node is in the bucket its shared prefix length names;
/// - no node has our id; no id and no address is in the table twice (entries and
///   replacements together).
public struct RoutingTable: Sendable {
    /// How a node made itself known.
    public enum Event: Sendable, Hashable {
        /// It answered one of our queries.
        case responded
        /// It sent us a query.
        case queried
        /// Another node named it (`nodes`), or it came from the saved state: not yet heard from.
        case heardOf
    }

    /// What `observe` did with a node.
    public enum Outcome: Sendable, Hashable {
        /// It took a free place, or the place of a bad node.
        case added
        /// It was already in the table; its times were updated.
        case updated
        /// Its bucket is full: it waits among the replacements. `ping` is the bucket's least
        /// recently seen questionable node, to be pinged (BEP 5): if it fails to answer
        /// `maxFailures` times, a replacement takes its place.
        case cached(ping: NodeContact?)
        /// Refused: our own id, or an id or address already held by a node that is not bad.
        case ignored
    }

    /// K: nodes per bucket.
    public static let bucketSize = 8
    /// One bucket per bit of shared prefix, at most.
    public static let maxBuckets = NodeID.bitCount
    /// A node that answered within this long is good; a bucket unchanged for this long wants a refresh.
    public static let goodInterval: Duration = .seconds(15 * 60)
    /// Unanswered queries in a row that make a node bad.
    public static let maxFailures = 2

    /// Our node id.
    public let ownID: NodeID
    private(set) var buckets: [RoutingBucket]

    /// An empty table for a node with id `ownID`.
    public init(ownID: NodeID, now: ContinuousClock.Instant) {
        self.ownID = ownID
        buckets = [RoutingBucket(lastChanged: now)]
    }

    /// The number of buckets.
    public var bucketCount: Int { buckets.count }

    /// The number of nodes in the table (replacements not counted).
    public var count: Int { buckets.reduce(0) { $0 + $1.entries.count } }

    /// Every node in the table, bucket by bucket.
    public var entries: [RoutingEntry] { buckets.flatMap(\.entries) }

    /// The nodes waiting in the replacement caches.
    public var replacements: [RoutingEntry] { buckets.flatMap(\.replacements) }

    /// The nodes in bucket `index` (empty outside 0..<bucketCount).
    public func entries(inBucket index: Int) -> [RoutingEntry] {
        buckets.indices.contains(index) ? buckets[index].entries : []
    }

    /// The replacements waiting for a place in bucket `index` (empty outside 0..<bucketCount).
    public func replacements(inBucket index: Int) -> [RoutingEntry] {
        buckets.indices.contains(index) ? buckets[index].replacements : []
    }

    /// The table's entry for `id`, if it holds one.
    public func entry(for id: NodeID) -> RoutingEntry? {
        buckets[bucketIndex(for: id)].entries.first { $0.contact.id == id }
    }

    /// The bucket `id` belongs in.
    public func bucketIndex(for id: NodeID) -> Int {
        min(ownID.commonPrefixLength(with: id), buckets.count - 1)
    }

    /// Learns of `contact` through `event` at `now` and files it by BEP 5's rules: a node already
    /// present is updated; a new one takes a free place (splitting the bucket that contains our
    /// id when it is full) or a bad node's place; else it waits among the replacements.
    public mutating func observe(_ contact: NodeContact, _ event: Event, now: ContinuousClock.Instant) -> Outcome {
        guard contact.id != ownID else { return .ignored }
        if let outcome = updateKnown(contact, event, now: now) { return outcome }
        var entry = RoutingEntry(contact: contact)
        entry.record(event, now: now)
        while true {
            let index = bucketIndex(for: contact.id)
            if !buckets[index].isFull {
                buckets[index].entries.append(entry)
                buckets[index].replacements.removeAll { $0.contact.id == contact.id }
                buckets[index].lastChanged = now
                return .added
            }
            if index == buckets.count - 1, buckets.count < Self.maxBuckets {
                split(now: now)
                continue
            }
            if let bad = buckets[index].entries.firstIndex(where: { $0.state(at: now) == .bad }) {
                buckets[index].entries[bad] = entry
                buckets[index].lastChanged = now
                return .added
            }
            buckets[index].cache(entry)
            let questionable = buckets[index].entries.filter { $0.state(at: now) == .questionable }
            // Never seen sorts first: it is the stalest of all.
            let stalest = questionable.min { first, second in
                guard let seenFirst = first.lastSeen else { return second.lastSeen != nil }
                guard let seenSecond = second.lastSeen else { return false }
                return seenFirst < seenSecond
            }
            return .cached(ping: stalest?.contact)
        }
    }

    /// `id` did not answer a query: one more failure. When that makes it bad and its bucket has a
    /// replacement, the replacement takes its place and is returned. A replacement that fails
    /// is dropped from the cache.
    @discardableResult
    public mutating func failed(_ id: NodeID, now: ContinuousClock.Instant) -> NodeContact? {
        let index = bucketIndex(for: id)
        guard let position = buckets[index].entries.firstIndex(where: { $0.contact.id == id }) else {
            buckets[index].replacements.removeAll { $0.contact.id == id }
            return nil
        }
        buckets[index].entries[position].failures += 1
        guard buckets[index].entries[position].state(at: now) == .bad,
              let replacement = buckets[index].takeReplacement() else { return nil }
        buckets[index].entries[position] = replacement
        buckets[index].lastChanged = now
        return replacement.contact
    }

    /// Removes `id` from the table and its bucket's replacements (e.g. it sent a bad id for its
    /// address); a replacement takes its place if there is one.
    public mutating func remove(_ id: NodeID) {
        let index = bucketIndex(for: id)
        buckets[index].replacements.removeAll { $0.contact.id == id }
        guard let position = buckets[index].entries.firstIndex(where: { $0.contact.id == id }) else { return }
        if let replacement = buckets[index].takeReplacement() {
            buckets[index].entries[position] = replacement
        } else {
            buckets[index].entries.remove(at: position)
        }
    }

    /// Up to `count` nodes that are not bad, closest to `target` first (XOR distance).
    public func closest(to target: NodeID, count: Int, now: ContinuousClock.Instant) -> [NodeContact] {
        guard count > 0 else { return [] }
        let candidates = buckets.flatMap(\.entries).filter { $0.state(at: now) != .bad }.map(\.contact)
        return Array(candidates.sorted { $0.id.distance(to: target) < $1.id.distance(to: target) }.prefix(count))
    }

    /// The indexes of buckets unchanged for `goodInterval`, which BEP 5 says to refresh with a
    /// `find_node` for a random id in their range (`refreshTarget`).
    public func bucketsNeedingRefresh(now: ContinuousClock.Instant) -> [Int] {
        buckets.indices.filter { now - buckets[$0].lastChanged >= Self.goodInterval }
    }

    /// A random id in bucket `index`'s range (clamped to the buckets there are).
    public func refreshTarget(bucket index: Int, using generator: inout some RandomNumberGenerator) -> NodeID {
        let bucket = min(max(index, 0), buckets.count - 1)
        // The last bucket covers every id sharing at least `bucket` bits; the others exactly `bucket`.
        let isLast = bucket == buckets.count - 1
        return ownID.random(sharingPrefix: bucket, flipNext: !isLast, using: &generator)
    }

    /// Marks the bucket `id` belongs in as changed (a lookup just went through it).
    public mutating func touchBucket(of id: NodeID, now: ContinuousClock.Instant) {
        buckets[bucketIndex(for: id)].lastChanged = now
    }

    // MARK: - Private

    /// Updates a node the table already knows (by id or address); nil if it is new.
    private mutating func updateKnown(_ contact: NodeContact, _ event: Event, now: ContinuousClock.Instant) -> Outcome? {
        let index = bucketIndex(for: contact.id)
        if let position = buckets[index].entries.firstIndex(where: { $0.contact.id == contact.id }) {
            guard buckets[index].entries[position].contact == contact else {
                // The id moved to another address: believe it only once the old one is bad.
                guard buckets[index].entries[position].state(at: now) == .bad else { return .ignored }
                var entry = RoutingEntry(contact: contact)
                entry.record(event, now: now)
                buckets[index].entries[position] = entry
                buckets[index].lastChanged = now
                return .updated
            }
            buckets[index].entries[position].record(event, now: now)
            if event == .responded { buckets[index].lastChanged = now }
            return .updated
        }
        // Another id at this address: one node per address, unless the old one went bad.
        for bucket in buckets.indices {
            guard let position = buckets[bucket].entries.firstIndex(where: { $0.contact.address == contact.address })
            else { continue }
            guard buckets[bucket].entries[position].state(at: now) == .bad else { return .ignored }
            buckets[bucket].entries.remove(at: position)
            break
        }
        if let position = buckets[index].replacements.firstIndex(where: { $0.contact.id == contact.id }) {
            // A waiting replacement: refresh it; it stays in the cache unless there is room now.
            var entry = buckets[index].replacements[position]
            guard entry.contact == contact else { return .ignored }
            entry.record(event, now: now)
            if buckets[index].isFull {
                buckets[index].cache(entry)
                return .updated
            }
            buckets[index].replacements.remove(at: position)
        }
        // Drop a cached entry at the same address under another id.
        for bucket in buckets.indices {
            buckets[bucket].replacements.removeAll { $0.contact.address == contact.address }
        }
        return nil
    }

    /// Splits the last bucket: the nodes sharing more of our prefix than its index move to a new
    /// last bucket.
    private mutating func split(now: ContinuousClock.Instant) {
        let index = buckets.count - 1
        var near = RoutingBucket(lastChanged: now)
        near.entries = buckets[index].entries.filter { ownID.commonPrefixLength(with: $0.contact.id) > index }
        near.replacements = buckets[index].replacements.filter { ownID.commonPrefixLength(with: $0.contact.id) > index }
        buckets[index].entries.removeAll { ownID.commonPrefixLength(with: $0.contact.id) > index }
        buckets[index].replacements.removeAll { ownID.commonPrefixLength(with: $0.contact.id) > index }
        buckets[index].lastChanged = now
        buckets.append(near)
        // A replacement may now have a free place in either half.
        for half in [index, index + 1] {
            while !buckets[half].isFull, let replacement = buckets[half].takeReplacement() {
                buckets[half].entries.append(replacement)
            }
        }
    }
}
