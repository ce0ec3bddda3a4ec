import NIOCore
import SwarmDHT
import SwarmMetainfo

/// Which DHT nodes the engine runs for its listen host (BEP 32: one node, socket and table per
/// address family): "any address" gives an IPv4 node and, where the machine has a routable IPv6
/// address, an IPv6 one (a host with loopback and link-local IPv6 only cannot reach the IPv6
/// DHT; a node there would only send into the void); an IPv4 literal gives the IPv4 node alone
/// and an IPv6 literal the IPv6 node alone, bound to that address.
enum DHTFamilies {
    /// (family, the address its socket binds) for each node to run, IPv4 first.
    static func nodes(listenHost: String, hostHasRoutableIPv6: () -> Bool) -> [(family: DHTAddressFamily, host: String)] {
        if listenHost == "0.0.0.0" || listenHost == "::" {
            return [(.ipv4, "0.0.0.0")] + (hostHasRoutableIPv6() ? [(.ipv6, "::")] : [])
        }
        if let ip = IPAddress(text: listenHost), !ip.isIPv4 {
            return [(.ipv6, listenHost)]
        }
        return [(.ipv4, listenHost)]
    }

    /// Whether an interface of this machine has an IPv6 address other than loopback (::1) and
    /// link-local (fe80::/10) ones.
    static func hostHasRoutableIPv6() -> Bool {
        guard let devices = try? System.enumerateDevices() else { return false }
        return devices.contains { device in
            guard let text = device.address?.ipAddress, let ip = IPAddress(text: text), !ip.isIPv4 else { return false }
            return isRoutable(ip)
        }
    }

    /// Not loopback, not link-local, not unspecified, not IPv4-mapped.
    static func isRoutable(_ ip: IPAddress) -> Bool {
        let bytes = ip.bytes
        guard bytes.count == 16 else { return false }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) { return false }                         // :: and ::1
        if bytes[0] == 0xfe, bytes[1] & 0xc0 == 0x80 { return false }                      // fe80::/10
        return ip.ipv4Bytes == nil
    }
}
