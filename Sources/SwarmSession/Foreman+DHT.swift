/// The torrent's side of the DHT (BEP 5): the DHT bit in our handshake, our DHT port sent to
/// peers that set theirs (see `peer(_:sentHandshake:)`), and the nodes peers name in their
/// `port` messages passed on to the engine's node.
extension Foreman {
    /// Advertises the engine's DHT node on `port`; `nodeHeard` hears the nodes peers name.
    /// Not called for a private torrent (BEP 27).
    func enableDHT(port: UInt16, nodeHeard: @escaping (String, UInt16) -> Void) {
        dhtPort = port
        dhtNodeHeard = nodeHeard
        roster.ourHandshake.supportsDHT = true
    }
}
