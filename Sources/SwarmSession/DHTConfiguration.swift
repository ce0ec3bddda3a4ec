/// The engine's DHT node (BEP 5): whether it runs, where it starts, where its routing table is
/// kept between runs.
public struct DHTConfiguration: Sendable {
    /// Off by default for a library user (and every unit test); the CLI turns it on unless `--no-dht`.
    public var enabled = false
    /// "HOST:PORT" of the bootstrap hosts (routers), asked when the saved table is too small.
    /// Host names are resolved at start, off the event loop.
    public var bootstrap: [String] = DHTConfiguration.publicRouters
    /// The folder whose `.swarmfs/dht.state` keeps the routing table between runs (the cache
    /// root): read at start, written every few minutes and at exit; nil keeps no state.
    public var stateRoot: String?

    /// The well-known public DHT routers, the default bootstrap.
    public static let publicRouters = [
        "router.bittorrent.com:6881",
        "dht.transmissionbt.com:6881",
        "router.utorrent.com:6881",
        "dht.libtorrent.org:25401",
    ]

    public init() {}
}
