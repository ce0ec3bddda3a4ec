import Glibc
import SwarmMetainfo

/// Turns "HOST:PORT" bootstrap entries into IPv4 addresses: IP literals as they are, names
/// through the system resolver (blocking: call it off the event loop). Entries that do not
/// parse or resolve are skipped; a name gives at most `maxAddressesPerName` addresses.
enum HostResolution {
    static let maxAddressesPerName = 4

    static func resolve(_ entries: [String]) -> [PeerAddress] {
        var result: [PeerAddress] = []
        for entry in entries {
            guard let (host, port) = split(entry) else { continue }
            if let ip = IPAddress(text: host) {
                if ip.isIPv4 { result.append(PeerAddress(ip: ip, port: port)) }
                continue
            }
            for ip in lookUp(host).prefix(maxAddressesPerName) where !result.contains(PeerAddress(ip: ip, port: port)) {
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

    private static func lookUp(_ name: String) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var cursor = list
        while let info = cursor?.pointee {
            if info.ai_family == AF_INET, let raw = info.ai_addr {
                let address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                // s_addr is in network order: its bytes in memory are the address's bytes.
                let bytes = withUnsafeBytes(of: address) { Array($0) }
                if let ip = IPAddress(bytes: bytes) { addresses.append(ip) }
            }
            cursor = info.ai_next
        }
        return addresses
    }
}
