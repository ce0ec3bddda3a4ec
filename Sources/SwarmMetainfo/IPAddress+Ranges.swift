extension IPAddress {
    /// The four IPv4 bytes of an IPv4 or IPv4-mapped IPv6 address; nil for other IPv6 addresses.
    public var ipv4Bytes: [UInt8]? {
        if isIPv4 { return bytes }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff { return Array(bytes[12...]) }
        return nil
    }

    /// Loopback and local-network addresses, where a peer is a LAN's round trip away: 10/8,
    /// 172.16/12, 192.168/16, 169.254/16, 127/8, and for IPv6 loopback `::1`, link-local
    /// fe80::/10 and unique-local fc00::/7.
    public var isLocalNetwork: Bool {
        if let v4 = ipv4Bytes {
            return v4[0] == 10 || v4[0] == 127 || (v4[0] == 172 && v4[1] & 0xf0 == 16)
                || (v4[0] == 192 && v4[1] == 168) || (v4[0] == 169 && v4[1] == 254)
        }
        let loopback = bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1
        return loopback || (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80) || bytes[0] & 0xfe == 0xfc
    }
}
