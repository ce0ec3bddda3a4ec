import SwarmMetainfo

/// A DHT node: its id and the UDP address it answers on. "Compact node info" on the wire: the
/// 20-byte id then the compact address, 26 bytes for IPv4 (BEP 5), 38 for IPv6 (BEP 32).
public struct NodeContact: Hashable, Sendable, CustomStringConvertible {
    /// The node's id.
    public var id: NodeID
    /// The node's IP address.
    public var ip: IPAddress
    /// The node's UDP port.
    public var port: UInt16

    /// The length of one compact IPv4 node.
    public static let compactLengthIPv4 = 26
    /// The length of one compact IPv6 node.
    public static let compactLengthIPv6 = 38

    /// A node `id` at `ip`:`port`.
    public init(id: NodeID, ip: IPAddress, port: UInt16) {
        self.id = id
        self.ip = ip
        self.port = port
    }

    /// The node's address as a `PeerAddress` (for logs and sockets).
    public var address: PeerAddress { PeerAddress(ip: ip, port: port) }

    /// The compact form: 26 bytes for IPv4, 38 for IPv6.
    public var compact: [UInt8] {
        id.bytes + ip.bytes + [UInt8(port >> 8), UInt8(port & 0xff)]
    }

    /// Decodes a compact node list of `addressLength` (4: `nodes`, 16: `nodes6`) + 22-byte
    /// entries. Entries with port 0 are dropped, as are entries repeating an earlier id or
    /// address; at most `limit` are returned and the rest is not looked at. Nil when the length
    /// is not a whole number of entries.
    public static func decodeCompactList(_ bytes: some Collection<UInt8>, addressLength: Int,
                                         limit: Int = .max) -> [NodeContact]? {
        guard addressLength == 4 || addressLength == 16 else { return nil }
        let stride = NodeID.byteCount + addressLength + 2
        guard bytes.count % stride == 0 else { return nil }
        let raw = Array(bytes)
        var contacts: [NodeContact] = []
        var seenIDs = Set<NodeID>()
        var seenAddresses = Set<PeerAddress>()
        var start = 0
        while start < raw.count, contacts.count < limit {
            let addressStart = start + NodeID.byteCount
            let portIndex = addressStart + addressLength
            let port = UInt16(raw[portIndex]) << 8 | UInt16(raw[portIndex + 1])
            if port != 0, let id = NodeID(bytes: raw[start..<addressStart]),
               let ip = IPAddress(bytes: raw[addressStart..<portIndex]) {
                let contact = NodeContact(id: id, ip: ip, port: port)
                if !seenIDs.contains(id), seenAddresses.insert(contact.address).inserted {
                    seenIDs.insert(id)
                    contacts.append(contact)
                }
            }
            start += stride
        }
        return contacts
    }

    /// The compact forms of the contacts of one family (4 or 16 address bytes), concatenated;
    /// contacts of the other family are left out.
    public static func encodeCompactList(_ contacts: some Sequence<NodeContact>, addressLength: Int) -> [UInt8] {
        contacts.filter { $0.ip.bytes.count == addressLength }.flatMap(\.compact)
    }

    public var description: String { "\(id)@\(address)" }
}
