import SwarmMetainfo

/// A BEP 5 DHT node: answers other nodes' queries, keeps the routing table alive, and runs
/// iterative lookups for the torrents. No I/O and no clock of its own: the owner hands it every
/// datagram that arrives (`receive`), calls `tick` a few times a second, and gives it a `send`
/// function for the datagrams it writes; every call takes the time. Not thread-safe: the owner
/// confines it to one thread (the engine's event loop).
///
/// Invariants: at most `maxOutstandingQueries` queries in flight, each given up after
/// `queryTimeout`; at most `maxConcurrentLookups` lookups run and `maxQueuedLookups` wait, each
/// finished (its `finished` called exactly once) by `lookupDuration`; bootstrap hosts are never
/// added to the table; everything from the network passes `KRPCMessage(decoding:)`'s bounds.
public final class DHTNode {
    /// Our node id.
    public var nodeID: NodeID { table.ownID }
    /// Nodes in the routing table.
    public var nodeCount: Int { table.count }
    /// Traffic counters.
    public internal(set) var statistics = DHTStatistics()
    /// Lookups running or waiting.
    public var lookupCount: Int { lookups.count + queuedLookups.count }

    let configuration: DHTNodeConfiguration
    let send: ([UInt8], PeerAddress) -> Void
    var table: RoutingTable
    var transactions: DHTTransactions
    var tokens: TokenSecret
    var peerStore = DHTPeerStore()
    var rateLimiter = DHTRateLimiter()
    var lookups: [UInt64: RunningLookup] = [:]
    var queuedLookups: [QueuedLookup] = []
    var nextLookupID: UInt64 = 1
    /// Our public address, once `externalAddressVotes` responders agreed on it (BEP 42).
    public internal(set) var externalAddress: IPAddress?
    var externalAddressVotes: [IPAddress: Int] = [:]
    private var nextMaintenance: ContinuousClock.Instant
    private var lastBootstrap: ContinuousClock.Instant?
    /// Where to start when the table has fewer than K nodes (resolved bootstrap hosts); they are
    /// never added to the table.
    public var bootstrapHosts: [PeerAddress] {
        didSet { bootstrapSet = Set(bootstrapHosts) }
    }
    private(set) var bootstrapSet: Set<PeerAddress>

    /// A lookup and what its owner wants to hear.
    struct RunningLookup {
        var lookup: DHTLookup
        var announcePort: UInt16?
        var found: ([PeerAddress]) -> Void
        var finished: () -> Void
    }

    /// A lookup waiting for a free place.
    struct QueuedLookup {
        var id: UInt64
        var kind: DHTLookup.Kind
        var target: NodeID
        var announcePort: UInt16?
        var found: ([PeerAddress]) -> Void
        var finished: () -> Void
    }

    /// A node restored from `savedState` (the output of `savedState(now:)`) when it is readable,
    /// else new with a random id (or `ownID`). Datagrams go out through `send`.
    public init(configuration: DHTNodeConfiguration, savedState: [UInt8]?, ownID: NodeID? = nil,
                now: ContinuousClock.Instant, send: @escaping ([UInt8], PeerAddress) -> Void) {
        var generator = SystemRandomNumberGenerator()
        self.configuration = configuration
        self.send = send
        if let savedState, let restored = try? RoutingTable(restoring: savedState, ownID: ownID, now: now) {
            table = restored
        } else {
            table = RoutingTable(ownID: ownID ?? NodeID.random(using: &generator), now: now)
        }
        transactions = DHTTransactions(capacity: max(1, configuration.maxOutstandingQueries),
                                       timeout: configuration.queryTimeout, firstID: UInt16.random(in: 0 ... .max))
        tokens = TokenSecret(origin: now, using: &generator)
        nextMaintenance = now.advanced(by: configuration.maintenanceInterval)
        bootstrapHosts = configuration.bootstrap
        bootstrapSet = Set(configuration.bootstrap)
    }

    /// The routing table to save between runs (see `RoutingTable.serialised`).
    public func savedState(now: ContinuousClock.Instant) -> [UInt8] {
        table.serialised(now: now)
    }

    // MARK: - Bootstrap and maintenance

    /// Joins the DHT: a `find_node` lookup for our own id, asking the saved table's nodes and,
    /// when it holds fewer than K, the bootstrap hosts. Returns where it started from.
    @discardableResult
    public func bootstrap(now: ContinuousClock.Instant) -> DHTBootstrapSource {
        lastBootstrap = now
        let known = table.closest(to: table.ownID, count: 2 * RoutingTable.bucketSize, now: now)
        let hosts = known.count < RoutingTable.bucketSize ? bootstrapHosts : []
        guard !known.isEmpty || !hosts.isEmpty else { return .nothing }
        startLookup(kind: .findNode, target: table.ownID, seeds: known.map { ($0.address, $0.id) } + hosts.map { ($0, nil) },
                    announcePort: nil, now: now, found: { _ in }, finished: {})
        return known.isEmpty ? .hosts(hosts.count) : .savedTable(nodes: known.count, hosts: hosts.count)
    }

    /// Asks `address` (a node a peer named in a `port` message) whether it is a DHT node; it
    /// joins the table if it answers.
    public func addNode(_ address: PeerAddress, now: ContinuousClock.Instant) {
        guard address.port != 0, let ip = address.ipAddress, configuration.family.reaches(ip),
              !transactions.isPending(to: address, purpose: .ping) else { return }
        query(.ping(id: table.ownID), to: address, nodeID: nil, purpose: .ping, now: now)
    }

    /// Gives up on silent queries, moves lookups on, and now and then refreshes stale buckets
    /// and re-bootstraps a table that emptied. Call a few times a second.
    public func tick(now: ContinuousClock.Instant) {
        for late in transactions.expire(now: now) {
            if let id = late.nodeID { table.failed(id, now: now) }
            if case let .lookup(lookupID) = late.purpose { lookups[lookupID]?.lookup.failed(late.address) }
        }
        for id in Array(lookups.keys) { pump(id, now: now) }
        guard now >= nextMaintenance else { return }
        nextMaintenance = now.advanced(by: configuration.maintenanceInterval)
        peerStore.purge(now: now)
        if table.count < RoutingTable.bucketSize, !isBootstrapping {
            bootstrap(now: now)
            return
        }
        var generator = SystemRandomNumberGenerator()
        // One bucket per round: refreshing is background work and must stay cheap.
        if let stale = table.bucketsNeedingRefresh(now: now).first {
            let target = table.refreshTarget(bucket: stale, using: &generator)
            table.touchBucket(of: target, now: now)
            let seeds = table.closest(to: target, count: RoutingTable.bucketSize, now: now).map { ($0.address, Optional($0.id)) }
            startLookup(kind: .findNode, target: target, seeds: seeds, announcePort: nil, now: now,
                        found: { _ in }, finished: {})
        }
    }

    private var isBootstrapping: Bool {
        lookups.values.contains { $0.lookup.kind == .findNode && $0.lookup.target == table.ownID }
    }

    // MARK: - Sending

    /// Sends `query` to `address` under a new transaction; false when too many are in flight.
    @discardableResult
    func query(_ query: KRPCQuery, to address: PeerAddress, nodeID: NodeID?, purpose: DHTQueryPurpose,
               now: ContinuousClock.Instant) -> Bool {
        guard let transactionID = transactions.begin(
            DHTPendingQuery(address: address, nodeID: nodeID, purpose: purpose, sentAt: now)) else { return false }
        let message = KRPCMessage(transactionID: transactionID, body: .query(query),
                                  clientVersion: configuration.clientVersion)
        transmit(message.encoded(), to: address)
        return true
    }

    func transmit(_ datagram: [UInt8], to address: PeerAddress) {
        statistics.datagramsSent += 1
        statistics.bytesSent += datagram.count
        send(datagram, address)
    }

    // MARK: - Receiving

    /// Handles one datagram from `source`: answers a query, files a response, drops the rest.
    public func receive(_ datagram: some Collection<UInt8>, from source: PeerAddress, now: ContinuousClock.Instant) {
        statistics.datagramsReceived += 1
        statistics.bytesReceived += datagram.count
        guard source.port != 0, let sourceIP = source.ipAddress else {
            statistics.datagramsDropped += 1
            return
        }
        let message: KRPCMessage
        do {
            message = try KRPCMessage(decoding: datagram)
        } catch {
            statistics.datagramsDropped += 1
            if error.isQuery, let transactionID = error.transactionID {
                answerError(203, "\(error.reason)", transactionID: transactionID, to: source, ip: sourceIP, now: now)
            }
            return
        }
        switch message.body {
        case let .query(query):
            answer(query, message: message, from: source, ip: sourceIP, now: now)
        case let .response(response):
            handleResponse(response, message: message, from: source, now: now)
        case .error:
            // An error answers a query of ours: the node is alive but the query got nothing.
            if let pending = transactions.finish(message.transactionID, from: source),
               case let .lookup(id) = pending.purpose {
                lookups[id]?.lookup.failed(source)
                pump(id, now: now)
            } else {
                statistics.datagramsDropped += 1
            }
        }
    }

    private func handleResponse(_ response: KRPCResponse, message: KRPCMessage, from source: PeerAddress,
                                now: ContinuousClock.Instant) {
        guard let pending = transactions.finish(message.transactionID, from: source) else {
            statistics.datagramsDropped += 1
            return
        }
        if let expected = pending.nodeID, expected != response.id {
            // Another node at that address now, or a liar: forget the old one, do not trust this one.
            table.remove(expected)
            if case let .lookup(id) = pending.purpose {
                lookups[id]?.lookup.failed(source)
                pump(id, now: now)
            }
            return
        }
        if !message.readOnly, !bootstrapSet.contains(source), let ip = source.ipAddress {
            learn(NodeContact(id: response.id, ip: ip, port: source.port), .responded, now: now)
        }
        noteExternalAddress(message.requesterAddress, now: now)
        guard case let .lookup(id) = pending.purpose, var running = lookups[id] else { return }
        let reachable = response.nodes.filter { configuration.family.reaches($0.ip) }
        running.lookup.answered(by: source, id: response.id, token: response.token, nodes: reachable)
        let fresh = running.lookup.newPeers(response.values)
        lookups[id] = running
        if !fresh.isEmpty { running.found(fresh) }
        pump(id, now: now)
    }

    /// Files a node in the table and pings the stale node the table wants checked.
    func learn(_ contact: NodeContact, _ event: RoutingTable.Event, now: ContinuousClock.Instant) {
        guard configuration.family.reaches(contact.ip) else { return }
        if case let .cached(stale?) = table.observe(contact, event, now: now),
           !transactions.isPending(to: stale.address, purpose: .ping) {
            query(.ping(id: table.ownID), to: stale.address, nodeID: stale.id, purpose: .ping, now: now)
        }
    }
}
