/// Counters of a `DHTNode`'s traffic, for the status and the benchmark.
public struct DHTStatistics: Sendable, Hashable {
    public var datagramsSent = 0
    public var bytesSent = 0
    public var datagramsReceived = 0
    public var bytesReceived = 0
    /// Queries from other nodes that we answered.
    public var queriesAnswered = 0
    /// Queries dropped by the rate limits.
    public var queriesRefused = 0
    /// Datagrams that were not acceptable KRPC, or answered nothing we asked.
    public var datagramsDropped = 0

    public init() {}
}

/// Where a bootstrap started from (for the log, and tests that check the saved table is used).
public enum DHTBootstrapSource: Sendable, Hashable, CustomStringConvertible {
    /// The saved routing table's nodes (and the bootstrap hosts too when it held fewer than K).
    case savedTable(nodes: Int, hosts: Int)
    /// The bootstrap hosts alone: the table was empty.
    case hosts(Int)
    /// Nothing to start from: no table, no hosts.
    case nothing

    public var description: String {
        switch self {
        case let .savedTable(nodes, hosts): "saved table (\(nodes) nodes) and \(hosts) bootstrap hosts"
        case let .hosts(count): "\(count) bootstrap hosts"
        case .nothing: "nothing (no saved table, no bootstrap hosts)"
        }
    }
}
