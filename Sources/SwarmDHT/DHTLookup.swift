import SwarmMetainfo

/// One iterative lookup (BEP 5): `get_peers` for an info-hash, or `find_node` for an id (bootstrap
/// and bucket refresh), asking the closest nodes known for closer ones until the closest K have
/// all answered. Pure bookkeeping: `DHTNode` sends what `nextQueries` picks and reports answers.
///
/// Invariants: at most `maxCandidates` candidates, closest first (nodes of unknown id — bootstrap
/// hosts — last); a node is asked once; at most `maxQueries` queries in all; at most
/// `maxReportedPeers` peers are remembered for de-duplication.
struct DHTLookup: Sendable {
    enum Kind: Sendable, Hashable {
        case getPeers(InfoHash)
        case findNode
    }

    enum CandidateState: Sendable, Hashable {
        case fresh
        case asked(ContinuousClock.Instant)
        case answered(token: [UInt8]?)
        case failed
    }

    struct Candidate: Sendable {
        var address: PeerAddress
        var id: NodeID?
        var state: CandidateState
    }

    /// Parallel queries (libtorrent uses 3, "alpha" in Kademlia).
    static let alpha = 3
    /// A query unanswered for this long no longer counts against `alpha`: another node is asked
    /// meanwhile (the answer is still taken if it comes).
    static let slowAfter: Duration = .seconds(1)
    static let maxCandidates = 64
    static let maxQueries = 160
    static let maxReportedPeers = 2000

    let id: UInt64
    let kind: Kind
    let target: NodeID
    let deadline: ContinuousClock.Instant
    private(set) var candidates: [Candidate] = []
    private(set) var queriesSent = 0
    private(set) var reportedPeers = Set<PeerAddress>()

    init(id: UInt64, kind: Kind, target: NodeID, deadline: ContinuousClock.Instant) {
        self.id = id
        self.kind = kind
        self.target = target
        self.deadline = deadline
    }

    /// Adds nodes to ask (from the table, a bootstrap host, or an answer's `nodes`).
    mutating func add(_ address: PeerAddress, id: NodeID?) {
        if candidates.contains(where: { $0.address == address || (id != nil && $0.id == id) }) { return }
        let candidate = Candidate(address: address, id: id, state: .fresh)
        let position = candidates.firstIndex { isCloser(candidate, than: $0) } ?? candidates.endIndex
        guard position < Self.maxCandidates else { return }
        candidates.insert(candidate, at: position)
        // Drop the farthest that is not in flight (its answer would find no candidate; harmless).
        if candidates.count > Self.maxCandidates,
           let last = candidates.lastIndex(where: { if case .asked = $0.state { false } else { true } }) {
            candidates.remove(at: last)
        }
    }

    private func isCloser(_ lhs: Candidate, than rhs: Candidate) -> Bool {
        guard let left = lhs.id else { return false }
        guard let right = rhs.id else { return true }
        return left.distance(to: target) < right.distance(to: target)
    }

    /// The nodes to ask now (each marked asked): the closest fresh ones, while fewer than `alpha`
    /// recent queries are in flight and the closest K are not all settled.
    mutating func nextQueries(now: ContinuousClock.Instant, room: Int) -> [Candidate] {
        guard !isFinished(now: now) else { return [] }
        var inFlight = candidates.filter { if case let .asked(at) = $0.state { now - at < Self.slowAfter } else { false } }.count
        var picked: [Candidate] = []
        var usable = 0
        for index in candidates.indices {
            if case .failed = candidates[index].state { continue }
            usable += 1
            // Only the closest K live candidates matter; beyond them a lookup has converged.
            if usable > RoutingTable.bucketSize { break }
            guard inFlight < Self.alpha, picked.count < room, queriesSent < Self.maxQueries else { break }
            guard case .fresh = candidates[index].state else { continue }
            candidates[index].state = .asked(now)
            queriesSent += 1
            inFlight += 1
            picked.append(candidates[index])
        }
        return picked
    }

    /// `address` answered: its id, token, and the closer nodes it named.
    mutating func answered(by address: PeerAddress, id: NodeID, token: [UInt8]?, nodes: [NodeContact]) {
        if let index = candidates.firstIndex(where: { $0.address == address }) {
            candidates[index].state = .answered(token: token)
            if candidates[index].id != id {
                var candidate = candidates.remove(at: index)
                candidate.id = id
                let position = candidates.firstIndex { isCloser(candidate, than: $0) } ?? candidates.endIndex
                candidates.insert(candidate, at: position)
            }
        }
        for node in nodes { add(node.address, id: node.id) }
    }

    /// `address` did not answer in time.
    mutating func failed(_ address: PeerAddress) {
        if let index = candidates.firstIndex(where: { $0.address == address }) { candidates[index].state = .failed }
    }

    /// The peers of `values` not reported before (at most `maxReportedPeers` over the lookup).
    mutating func newPeers(_ values: [PeerAddress]) -> [PeerAddress] {
        var fresh: [PeerAddress] = []
        for peer in values where reportedPeers.count < Self.maxReportedPeers && reportedPeers.insert(peer).inserted {
            fresh.append(peer)
        }
        return fresh
    }

    /// Done: past the deadline or the query budget with nothing in flight, or the closest K live
    /// candidates have all answered, or there is nobody left to ask.
    func isFinished(now: ContinuousClock.Instant) -> Bool {
        if now >= deadline { return true }
        var usable = 0
        var anyInFlight = false
        var anyFresh = false
        for candidate in candidates {
            switch candidate.state {
            case .failed: continue
            case .asked: anyInFlight = true
            case .fresh: anyFresh = true
            case .answered: break
            }
            usable += 1
            if usable >= RoutingTable.bucketSize { break }
        }
        if anyInFlight { return false }
        return !anyFresh || queriesSent >= Self.maxQueries
    }

    /// The closest K nodes that answered with a token, to announce to.
    var announceTargets: [(address: PeerAddress, token: [UInt8])] {
        Array(candidates.compactMap { candidate -> (address: PeerAddress, token: [UInt8])? in
            guard case let .answered(token?) = candidate.state else { return nil }
            return (candidate.address, token)
        }.prefix(RoutingTable.bucketSize))
    }
}
