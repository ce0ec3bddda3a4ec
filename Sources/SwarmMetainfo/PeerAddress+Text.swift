/// The `host:port` text form, as `--peer`, magnet `x.pe` (BEP 9) and logs write it.
extension PeerAddress {
    /// Parses `hostname:port`, `ipv4-literal:port` or `[ipv6-literal]:port`. The port must be
    /// 1...65535; a bracketed host must be an IPv6 literal and an unbracketed one must not contain
    /// a colon (so `::1:6881` is refused rather than guessed at); digits and dots alone must make
    /// a valid IPv4 literal. Host names are kept as written (up to 253 bytes, no spaces or control
    /// characters); IP literals are stored canonically.
    public init?(parsing text: some StringProtocol) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let portText = text[text.index(after: colon)...]
        guard (1...5).contains(portText.utf8.count), portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let port = UInt16(portText), port != 0 else { return nil }
        let hostText = text[..<colon]
        if hostText.hasPrefix("[") {
            guard hostText.hasSuffix("]"), hostText.count >= 2,
                  let ip = IPAddress(text: hostText.dropFirst().dropLast()), !ip.isIPv4 else { return nil }
            self.init(ip: ip, port: port)
            return
        }
        guard !hostText.isEmpty, hostText.utf8.count <= 253, !hostText.contains(":"),
              hostText.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7f && $0 != UInt8(ascii: "[") && $0 != UInt8(ascii: "]") })
        else { return nil }
        // Digits and dots only must be an IPv4 literal: resolvers read `010.0.0.1` or `1.2.3` as
        // some address, and not the one a reader sees.
        let numeric = hostText.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") }
        if numeric && IPAddress(text: hostText) == nil { return nil }
        if let ip = IPAddress(text: hostText) {
            self.init(ip: ip, port: port)
        } else {
            self.init(host: String(hostText), port: port)
        }
    }
}
