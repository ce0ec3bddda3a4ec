import SwarmMetainfo

/// Iterative lookups: `get_peers` for the torrents (peers reported as they arrive, then
/// `announce_peer` to the closest nodes that gave a token), `find_node` for bootstrap and refresh.
extension DHTNode {
    /// Looks for peers of `infoHash`: `found` hears every batch of new peers as answers arrive
    /// (time to first peer matters more than convergence); when the lookup ends (converged, or
    /// after `lookupDuration`), we announce ourselves on `announcePort` (if given) to the closest
    /// nodes that gave a token, and `finished` is called, once. Seeded from the table, and from
    /// the bootstrap hosts when the table is nearly empty.
    /// Returns the lookup's id, for `cancelLookup`.
    @discardableResult
    public func lookup(infoHash: InfoHash, announcePort: UInt16?, now: ContinuousClock.Instant,
                       found: @escaping ([PeerAddress]) -> Void, finished: @escaping () -> Void) -> UInt64 {
        let target = NodeID(infoHash: infoHash)
        var seeds = table.closest(to: target, count: RoutingTable.bucketSize, now: now).map { ($0.address, Optional($0.id)) }
        if seeds.count < RoutingTable.bucketSize { seeds += bootstrapHosts.map { ($0, nil) } }
        return startLookup(kind: .getPeers(infoHash), target: target, seeds: seeds, announcePort: announcePort, now: now,
                           found: found, finished: finished)
    }

    /// Ends lookup `id` now, without announcing; its `finished` is called (if it had not been).
    public func cancelLookup(_ id: UInt64) {
        if let running = lookups.removeValue(forKey: id) {
            running.finished()
        } else if let index = queuedLookups.firstIndex(where: { $0.id == id }) {
            queuedLookups.remove(at: index).finished()
        }
    }

    /// Ends every lookup now (their `finished` is called): the node is going away.
    public func finishAllLookups() {
        let waiting = queuedLookups
        queuedLookups.removeAll()
        let running = lookups
        lookups.removeAll()
        for lookup in waiting { lookup.finished() }
        for lookup in running.values { lookup.finished() }
    }

    @discardableResult
    func startLookup(kind: DHTLookup.Kind, target: NodeID, seeds: [(PeerAddress, NodeID?)], announcePort: UInt16?,
                     now: ContinuousClock.Instant, found: @escaping ([PeerAddress]) -> Void, finished: @escaping () -> Void,
                     id reusedID: UInt64? = nil) -> UInt64 {
        let id = reusedID ?? nextLookupID
        if reusedID == nil { nextLookupID &+= 1 }
        guard lookups.count < max(1, configuration.maxConcurrentLookups) else {
            guard queuedLookups.count < configuration.maxQueuedLookups else {
                finished()
                return id
            }
            queuedLookups.append(QueuedLookup(id: id, kind: kind, target: target, announcePort: announcePort,
                                              found: found, finished: finished))
            return id
        }
        var lookup = DHTLookup(id: id, kind: kind, target: target, deadline: now.advanced(by: configuration.lookupDuration))
        for (address, nodeID) in seeds where address.ipAddress.map(configuration.family.reaches) == true {
            lookup.add(address, id: nodeID)
        }
        lookups[id] = RunningLookup(lookup: lookup, announcePort: announcePort, found: found, finished: finished)
        pump(id, now: now)
        return id
    }

    /// Sends the queries lookup `id` wants now, or ends it when it is done.
    func pump(_ id: UInt64, now: ContinuousClock.Instant) {
        guard var running = lookups[id] else { return }
        let ownID = table.ownID
        for candidate in running.lookup.nextQueries(now: now, room: max(0, transactions.capacity - transactions.count)) {
            let message: KRPCQuery = switch running.lookup.kind {
            case let .getPeers(infoHash): .getPeers(id: ownID, infoHash: infoHash)
            case .findNode: .findNode(id: ownID, target: running.lookup.target)
            }
            query(message, to: candidate.address, nodeID: candidate.id, purpose: .lookup(id), now: now)
        }
        lookups[id] = running
        guard running.lookup.isFinished(now: now) else { return }
        lookups[id] = nil
        if case let .getPeers(infoHash) = running.lookup.kind, let port = running.announcePort {
            for target in running.lookup.announceTargets {
                query(.announcePeer(id: ownID, infoHash: infoHash, port: port, impliedPort: false, token: target.token),
                      to: target.address, nodeID: nil, purpose: .announce, now: now)
            }
        }
        running.finished()
        startQueuedLookup(now: now)
    }

    private func startQueuedLookup(now: ContinuousClock.Instant) {
        guard !queuedLookups.isEmpty, lookups.count < max(1, configuration.maxConcurrentLookups) else { return }
        let next = queuedLookups.removeFirst()
        var seeds = table.closest(to: next.target, count: RoutingTable.bucketSize, now: now).map { ($0.address, Optional($0.id)) }
        if seeds.count < RoutingTable.bucketSize { seeds += bootstrapHosts.map { ($0, nil) } }
        startLookup(kind: next.kind, target: next.target, seeds: seeds, announcePort: next.announcePort, now: now,
                    found: next.found, finished: next.finished, id: next.id)
    }
}
