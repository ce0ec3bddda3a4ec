import DequeModule
import HeapModule
import NIOCore

/// Every peer address we know of (trackers, the command line), with back-off for those that
/// refuse or drop us, and the addresses we never talk to again. Confined to the event loop.
///
/// Invariants:
/// - At most `capacity` candidates (libtorrent keeps ~4,000 a torrent): one announce may name
///   hundreds of thousands. Adding past it evicts the worst candidate that is not connected —
///   most failures first, then the one useful longest ago (never useful is oldest), then the
///   one added first. When every candidate is connected the new address is dropped.
/// - `ready` (soonest retry first) and `worst` (eviction order) are heaps of entries stamped
///   with the candidate's `version` at the time; every change bumps the version, so an entry
///   that no longer matches is stale and is skipped when it surfaces. Heaps are rebuilt when
///   stale entries outnumber live ones: adding, picking and failing cost O(log n) amortised.
/// - Banned endpoints and banned hosts are remembered apart from candidates (bounded, the
///   oldest ban forgotten first), so neither eviction nor a tracker naming them again unbans.
final class PeerDirectory {
    struct Candidate {
        let host: String
        let port: UInt16
        let address: String
        var failures = 0
        var retryAt = NIODeadline.uptimeNanoseconds(0)
        /// When a connection to it last ended after it sent us data (never: 0).
        var usefulAt = NIODeadline.uptimeNanoseconds(0)
        var connected = false
        fileprivate(set) var sequence: UInt64 = 0
        fileprivate(set) var version: UInt64 = 0

        init(host: String, port: UInt16) {
            self.host = host
            self.port = port
            address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }

    /// Soonest retry first; among equals, the one added first.
    private struct ReadyEntry: Comparable {
        let retryAt: NIODeadline
        let sequence: UInt64
        let address: String
        let version: UInt64
        static func < (a: Self, b: Self) -> Bool { (a.retryAt, a.sequence) < (b.retryAt, b.sequence) }
        static func == (a: Self, b: Self) -> Bool { a.sequence == b.sequence && a.version == b.version }
    }

    /// Ordered from best to worst: the maximum is evicted first.
    private struct EvictionEntry: Comparable {
        let failures: Int
        let usefulAt: NIODeadline
        let sequence: UInt64
        let address: String
        let version: UInt64
        static func < (a: Self, b: Self) -> Bool {
            if a.failures != b.failures { return a.failures < b.failures }
            if a.usefulAt != b.usefulAt { return a.usefulAt > b.usefulAt }
            return a.sequence > b.sequence
        }
        static func == (a: Self, b: Self) -> Bool { a.sequence == b.sequence && a.version == b.version }
    }

    /// The most candidates kept.
    let capacity: Int
    private var candidates: [String: Candidate] = [:]
    private var ready = Heap<ReadyEntry>()
    private var worst = Heap<EvictionEntry>()
    private var nextSequence: UInt64 = 0
    private var bannedAddresses: BoundedSet<String>
    private var bannedHosts: BoundedSet<String>

    init(capacity: Int = 4_000, banCapacity: Int = 4_096) {
        self.capacity = max(1, capacity)
        bannedAddresses = BoundedSet(capacity: banCapacity)
        bannedHosts = BoundedSet(capacity: banCapacity)
    }

    var count: Int { candidates.count }

    func contains(_ address: String) -> Bool { candidates[address] != nil }

    func add(host: String, port: UInt16) {
        guard port != 0 else { return }
        var candidate = Candidate(host: host, port: port)
        guard candidates[candidate.address] == nil, !isBanned(candidate) else { return }
        if candidates.count >= capacity, !evictWorst() { return }
        nextSequence &+= 1
        candidate.sequence = nextSequence
        candidates[candidate.address] = candidate
        index(candidate)
    }

    /// The next address worth trying now (the one whose back-off ended first), marked as in use.
    func nextCandidate(now: NIODeadline) -> Candidate? {
        while let top = ready.min {
            guard var candidate = candidates[top.address], candidate.version == top.version,
                  !candidate.connected else {
                _ = ready.popMin()
                continue
            }
            guard candidate.retryAt <= now else { return nil }
            _ = ready.popMin()
            if isBanned(candidate) {
                candidates[top.address] = nil
                continue
            }
            candidate.connected = true
            candidate.version &+= 1
            candidates[top.address] = candidate
            return candidate
        }
        return nil
    }

    func connected(_ address: String) {
        guard var candidate = candidates[address] else { return }
        candidate.connected = true
        candidate.version &+= 1
        candidates[address] = candidate
    }

    /// A connection attempt failed: try again after 5 s, doubling up to 5 minutes.
    func failed(_ address: String, now: NIODeadline = .now()) {
        guard var candidate = candidates[address] else { return }
        candidate.connected = false
        candidate.failures = min(candidate.failures + 1, 1_000)
        let delay = min(5 << min(candidate.failures - 1, 6), 300)
        candidate.retryAt = now + .seconds(Int64(delay))
        update(candidate)
    }

    /// A connection ended. A peer that gave us data may come back soon; one that did not waits longer.
    func disconnected(_ address: String, wasUseful: Bool, now: NIODeadline = .now()) {
        guard var candidate = candidates[address] else { return }
        guard wasUseful else { return failed(address, now: now) }
        candidate.connected = false
        candidate.failures = 0
        candidate.usefulAt = now
        candidate.retryAt = now + .seconds(2)
        update(candidate)
    }

    /// Never connect to this endpoint again in this session (ourselves, seen from outside).
    func ban(_ address: String) {
        bannedAddresses.insert(address)
        forget(address)
    }

    /// Never connect to, nor accept, this host again in this session (it broke the protocol).
    /// By host, not endpoint: an incoming peer comes back from a new ephemeral port each time.
    func ban(host: String) {
        bannedHosts.insert(Self.canonicalHost(host))
    }

    /// Whether connections from or to this host are refused.
    func isBanned(host: String) -> Bool {
        bannedHosts.contains(Self.canonicalHost(host))
    }

    /// An IPv4 peer reaching a dual-stack socket shows as `::ffff:a.b.c.d`: one host, one name.
    static func canonicalHost(_ host: String) -> String {
        let mapped = "::ffff:"
        guard host.count > mapped.count, host.lowercased().hasPrefix(mapped) else { return host }
        let rest = host.dropFirst(mapped.count)
        return rest.contains(".") && !rest.contains(":") ? String(rest) : host
    }

    private func isBanned(_ candidate: Candidate) -> Bool {
        bannedAddresses.contains(candidate.address) || isBanned(host: candidate.host)
    }

    private func forget(_ address: String) {
        // Its heap entries go stale with it.
        candidates[address] = nil
    }

    private func update(_ changed: Candidate) {
        var candidate = changed
        candidate.version &+= 1
        candidates[candidate.address] = candidate
        index(candidate)
    }

    /// Files an idle candidate under both orders.
    private func index(_ candidate: Candidate) {
        guard !candidate.connected else { return }
        ready.insert(ReadyEntry(retryAt: candidate.retryAt, sequence: candidate.sequence,
                                address: candidate.address, version: candidate.version))
        worst.insert(EvictionEntry(failures: candidate.failures, usefulAt: candidate.usefulAt,
                                   sequence: candidate.sequence, address: candidate.address,
                                   version: candidate.version))
        rebuildIfStale()
    }

    /// Removes the worst idle candidate; false when every candidate is connected.
    private func evictWorst() -> Bool {
        while let entry = worst.popMax() {
            guard let candidate = candidates[entry.address], candidate.version == entry.version,
                  !candidate.connected else { continue }
            candidates[entry.address] = nil
            return true
        }
        return false
    }

    private func rebuildIfStale() {
        let limit = 2 * candidates.count + 64
        guard ready.count > limit || worst.count > limit else { return }
        let idle = candidates.values.filter { !$0.connected }
        ready = Heap(idle.map { ReadyEntry(retryAt: $0.retryAt, sequence: $0.sequence, address: $0.address,
                                           version: $0.version) })
        worst = Heap(idle.map { EvictionEntry(failures: $0.failures, usefulAt: $0.usefulAt, sequence: $0.sequence,
                                              address: $0.address, version: $0.version) })
    }
}

/// A set that forgets its oldest member once it holds `capacity`.
struct BoundedSet<Element: Hashable> {
    let capacity: Int
    private var members: Set<Element> = []
    private var age: Deque<Element> = []

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { members.count }

    func contains(_ element: Element) -> Bool { members.contains(element) }

    mutating func insert(_ element: Element) {
        guard members.insert(element).inserted else { return }
        age.append(element)
        if age.count > capacity, let oldest = age.popFirst() { members.remove(oldest) }
    }
}
