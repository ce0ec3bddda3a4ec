import NIOCore
import SwarmMetainfo

/// Decodes peers in the compact forms: 6 bytes per IPv4 peer (BEP 23), 18 per IPv6 peer (BEP 7).
enum CompactPeerList {
    /// Decodes `bytes` as packed (address, big-endian port) entries of `addressLength` + 2 bytes.
    /// Entries with port 0 are dropped. Returns nil when the length is not a multiple of the entry size.
    static func decode<Bytes: Collection>(_ bytes: Bytes, addressLength: Int) -> [PeerAddress]?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let stride = addressLength + 2
        guard bytes.count % stride == 0 else { return nil }
        var peers: [PeerAddress] = []
        peers.reserveCapacity(bytes.count / stride)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let address = bytes[index..<(index + addressLength)]
            let port = UInt16(bytes[index + addressLength]) << 8 | UInt16(bytes[index + addressLength + 1])
            index += stride
            guard port != 0 else { continue }
            peers.append(PeerAddress(host: format(address), port: port))
        }
        return peers
    }

    /// Formats 4 bytes as dotted decimal or 16 bytes as RFC 5952 text.
    static func format<Bytes: Collection>(_ address: Bytes) -> String where Bytes.Element == UInt8 {
        let bytes = Array(address)
        if bytes.count == 4 {
            return bytes.map(String.init).joined(separator: ".")
        }
        var buffer = ByteBuffer(bytes: bytes)
        if let socket = try? SocketAddress(packedIPAddress: buffer, port: 0), let text = socket.ipAddress {
            return text
        }
        // Not reachable for 16 bytes; fall back to plain groups rather than failing.
        var groups: [String] = []
        while let group = buffer.readInteger(as: UInt16.self) { groups.append(String(group, radix: 16)) }
        return groups.joined(separator: ":")
    }
}
