/// The compact forms of peer addresses: 6 bytes per IPv4 peer (BEP 23), 18 per IPv6 peer (BEP 7),
/// the address then the port, both big-endian. Trackers, PEX (BEP 11) and the DHT (BEP 5) use them.
extension PeerAddress {
    /// The address of `ip` on `port`; the host is the canonical text of `ip`.
    public init(ip: IPAddress, port: UInt16) {
        self.init(host: ip.description, port: port)
    }

    /// The host as an IP address; nil when it is a host name.
    public var ipAddress: IPAddress? { IPAddress(text: host) }

    /// The compact form (6 or 18 bytes); nil when the host is not an IP literal.
    public var compactBytes: [UInt8]? {
        guard let ip = ipAddress else { return nil }
        return ip.bytes + [UInt8(port >> 8), UInt8(port & 0xff)]
    }

    /// Decodes packed entries of `addressLength` (4 or 16) + 2 bytes. Entries with port 0 (no
    /// one listens there) are dropped, as are repeats of an earlier entry; at most `limit`
    /// addresses are returned and the rest of the list is not looked at. Nil when the length is
    /// not a whole number of entries or `addressLength` is neither 4 nor 16.
    public static func decodeCompactList(_ bytes: some Collection<UInt8>, addressLength: Int,
                                         limit: Int = .max) -> [PeerAddress]? {
        guard addressLength == 4 || addressLength == 16 else { return nil }
        let stride = addressLength + 2
        guard bytes.count % stride == 0 else { return nil }
        let raw = Array(bytes)
        var peers: [PeerAddress] = []
        var seen = Set<PeerAddress>()
        var index = 0
        while index < raw.count, peers.count < limit {
            let portIndex = index + addressLength
            let port = UInt16(raw[portIndex]) << 8 | UInt16(raw[portIndex + 1])
            // 4 or 16 bytes by construction, so the address always exists.
            if port != 0, let ip = IPAddress(bytes: raw[index..<portIndex]) {
                let peer = PeerAddress(ip: ip, port: port)
                if seen.insert(peer).inserted { peers.append(peer) }
            }
            index += stride
        }
        return peers
    }

    /// The compact form of each address in order, concatenated; nil if any host is not an IP
    /// literal of the family `addressLength` (4 or 16) names.
    public static func encodeCompactList(_ peers: some Sequence<PeerAddress>, addressLength: Int) -> [UInt8]? {
        var output: [UInt8] = []
        for peer in peers {
            guard let compact = peer.compactBytes, compact.count == addressLength + 2 else { return nil }
            output += compact
        }
        return output
    }
}
