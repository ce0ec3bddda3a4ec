import Glibc
import SwarmDHT
import SwarmMetainfo

/// Turns "HOST:PORT" bootstrap entries into addresses of one family (a DHT node's: BEP 32 runs
/// one node per family): IP literals as they are, names through the system resolver (blocking:
/// call it off the event loop). Entries that do not parse or resolve are skipped; a name gives
/// at most `maxAddressesPerName` addresses.
enum HostResolution {
    static let maxAddressesPerName = 4

    static func resolve(_ entries: [String], family: DHTAddressFamily) -> [PeerAddress] {
        var result: [PeerAddress] = []
        for entry in entries {
            guard let (host, port) = split(entry) else { continue }
            if let ip = IPAddress(text: host) {
                if family.reaches(ip) { result.append(PeerAddress(ip: ip, port: port)) }
                continue
            }
            for ip in lookUp(host, family: family).prefix(maxAddressesPerName)
            where !result.contains(PeerAddress(ip: ip, port: port)) {
                result.append(PeerAddress(ip: ip, port: port))
            }
        }
        return result
    }

    /// "host:port" or "[v6]:port"; nil without a port in 1...65535.
    static func split(_ entry: String) -> (host: String, port: UInt16)? {
        guard let colon = entry.lastIndex(of: ":"), let port = UInt16(entry[entry.index(after: colon)...]), port > 0 else {
            return nil
        }
        var host = String(entry[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    private static func lookUp(_ name: String, family: DHTAddressFamily) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = family == .ipv4 ? AF_INET : AF_INET6
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var cursor = list
        while let info = cursor?.pointee {
            // The address fields are in network order: their bytes in memory are the address's.
            if info.ai_family == AF_INET, let raw = info.ai_addr {
                let address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                if let ip = IPAddress(bytes: withUnsafeBytes(of: address) { Array($0) }) { addresses.append(ip) }
            } else if info.ai_family == AF_INET6, let raw = info.ai_addr {
                let address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                if let ip = IPAddress(bytes: withUnsafeBytes(of: address) { Array($0) }), family.reaches(ip) {
                    addresses.append(ip)
                }
            }
            cursor = info.ai_next
        }
        return addresses
    }
}
