import SwarmMetainfo

/// The address family a DHT node lives in. BEP 32 runs IPv4 and IPv6 as two DHTs with two
/// routing tables: a node on an IPv4 socket knows, asks and answers about IPv4 nodes only
/// (`nodes`), one on an IPv6 socket about IPv6 nodes only (`nodes6`), as libtorrent does.
public enum DHTAddressFamily: String, Sendable, CaseIterable, CustomStringConvertible {
    case ipv4
    case ipv6

    /// Whether a node of this family can reach `ip` (an IPv4-mapped IPv6 address is IPv4; the
    /// socket's reader turns those into their IPv4 form before they get here).
    public func reaches(_ ip: IPAddress) -> Bool {
        ip.isIPv4 == (self == .ipv4)
    }

    /// The family of `ip`.
    public init(of ip: IPAddress) {
        self = ip.isIPv4 ? .ipv4 : .ipv6
    }

    public var description: String { self == .ipv4 ? "IPv4" : "IPv6" }
}
