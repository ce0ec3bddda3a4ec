import SwarmMetainfo

/// BEP 42: node ids tied to the node's external IP address, so that no one can place nodes
/// next to an info-hash of their choosing without holding many addresses.
///
/// The first 21 bits of a valid id are the first 21 bits of
/// `crc32c((ip & mask) | (r << 29))` for IPv4 (the 4 address bytes) or
/// `crc32c((ip & mask) | (r << 61))` for IPv6 (the high 8 bytes), where `r` is the low 3 bits
/// of the id's last byte.
extension NodeID {
    private static let ipv4Mask: [UInt8] = [0x03, 0x0f, 0x3f, 0xff]
    private static let ipv6Mask: [UInt8] = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff]

    /// The CRC32C whose first 21 bits a node at `ip` with random value `r` (only its low 3 bits
    /// count) must carry. An IPv4-mapped IPv6 address counts as its IPv4 address.
    public static func bep42Checksum(for ip: IPAddress, r: UInt8) -> UInt32 {
        var input: [UInt8]
        let mask: [UInt8]
        if let v4 = ip.ipv4Bytes {
            input = v4
            mask = ipv4Mask
        } else {
            input = Array(ip.bytes.prefix(8))
            mask = ipv6Mask
        }
        for index in input.indices { input[index] &= mask[index] }
        input[0] |= (r & 0x07) << 5
        return CRC32C.checksum(input)
    }

    /// A random id that is valid for `ip` under BEP 42, with `rand` as its last byte (whose low 3
    /// bits are BEP 42's `r`); the other bits are random.
    public static func secure(for ip: IPAddress, rand: UInt8,
                              using generator: inout some RandomNumberGenerator) -> NodeID {
        let crc = bep42Checksum(for: ip, r: rand)
        var bytes = NodeID.random(using: &generator).bytes
        bytes[0] = UInt8(truncatingIfNeeded: crc >> 24)
        bytes[1] = UInt8(truncatingIfNeeded: crc >> 16)
        bytes[2] = UInt8(truncatingIfNeeded: crc >> 8) & 0xf8 | bytes[2] & 0x07
        bytes[19] = rand
        // Twenty bytes by construction.
        return NodeID(bytes: bytes) ?? .zero
    }

    /// A random id that is valid for `ip` under BEP 42.
    public static func secure(for ip: IPAddress, using generator: inout some RandomNumberGenerator) -> NodeID {
        secure(for: ip, rand: UInt8(truncatingIfNeeded: generator.next() as UInt64), using: &generator)
    }

    /// True when this id's first 21 bits match what BEP 42 derives from `ip` and the id's last
    /// byte. Local-network addresses (`IPAddress.isBEP42Exempt`) are always valid.
    public func isBEP42Valid(for ip: IPAddress) -> Bool {
        if ip.isBEP42Exempt { return true }
        let raw = bytes
        let crc = Self.bep42Checksum(for: ip, r: raw[19])
        return raw[0] == UInt8(truncatingIfNeeded: crc >> 24)
            && raw[1] == UInt8(truncatingIfNeeded: crc >> 16)
            && raw[2] & 0xf8 == UInt8(truncatingIfNeeded: crc >> 8) & 0xf8
    }
}

extension IPAddress {
    /// Addresses BEP 42 exempts from node-id checks, where many nodes share one external
    /// address: the local-network ranges (`isLocalNetwork`), as libtorrent does.
    public var isBEP42Exempt: Bool { isLocalNetwork }
}
