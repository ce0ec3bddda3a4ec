/// A peer's address as a tracker reports it: an IPv4 or IPv6 literal and a TCP port.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 (`192.0.2.1`) or IPv6 (`2001:db8::1`) literal, without brackets.
    public var host: String
    /// The peer's listening port (never 0 in tracker results).
    public var port: UInt16

    /// Creates an address.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with the host bracketed when it is IPv6.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
