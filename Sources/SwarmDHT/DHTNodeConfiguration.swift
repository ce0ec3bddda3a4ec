import SwarmMetainfo

/// How a `DHTNode` behaves; the defaults suit the public DHT.
public struct DHTNodeConfiguration: Sendable {
    /// Where to start when the saved table gives too few nodes: resolved addresses of the
    /// bootstrap hosts (routers). They are queried, never added to the table.
    public var bootstrap: [PeerAddress] = []
    /// The family of the node's socket: the only nodes it files, asks and names (BEP 32).
    public var family: DHTAddressFamily = .ipv4
    /// Queries in flight at once, all lookups and pings together.
    public var maxOutstandingQueries = 256
    /// How long a query's answer is waited for.
    public var queryTimeout: Duration = .seconds(4)
    /// The longest a lookup runs, whatever the network does.
    public var lookupDuration: Duration = .seconds(20)
    /// Lookups running at once; more wait (a queue bounded by `maxQueuedLookups`).
    public var maxConcurrentLookups = 16
    /// Lookups waiting to run; more are finished at once with no peers.
    public var maxQueuedLookups = 256
    /// How often stale buckets are refreshed and a lost table bootstrapped again.
    public var maintenanceInterval: Duration = .seconds(60)
    /// Peers named in one `get_peers` answer (50 compact IPv4 peers are 400 bytes).
    public var maxValuesPerAnswer = 50
    /// `v` (BEP 20 style: two letters and a version).
    public var clientVersion: [UInt8] = Array("SF".utf8) + [0, 1]

    public init() {}
}
