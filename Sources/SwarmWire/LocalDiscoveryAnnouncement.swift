import SwarmMetainfo

/// A BEP 14 local service discovery announcement: the HTTP-like datagram a client multicasts to
/// 239.192.152.143:6771 (or [ff15::efc0:988f]:6771) so that peers on its LAN find it.
///
/// ```
/// BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: <40 hex>\r\n
/// cookie: <opaque>\r\n\r\n\r\n
/// ```
/// Parsing is strict about what it keeps and bounded in everything: at most `maxDatagramLength`
/// bytes, `maxInfoHashes` info-hashes (BEP 14 lets one datagram name several), a port in 1...65535,
/// a cookie of at most `maxCookieLength` printable bytes; header names are case-insensitive,
/// unknown headers are ignored, and a malformed `Infohash` line is skipped, not fatal.
public struct LocalDiscoveryAnnouncement: Sendable, Hashable {
    /// The announcer's listening TCP port.
    public var port: UInt16
    /// The torrents the announcer has.
    public var infoHashes: [InfoHash]
    /// An opaque token that lets a client recognise (and ignore) its own announcements.
    public var cookie: String?

    /// The IPv4 multicast group and port.
    public static let ipv4Group = "239.192.152.143"
    /// The IPv6 multicast group.
    public static let ipv6Group = "ff15::efc0:988f"
    public static let groupPort: UInt16 = 6771
    /// The largest datagram read (BEP 14 announcements fit one unfragmented packet).
    public static let maxDatagramLength = 1400
    /// The most info-hashes kept from one announcement.
    public static let maxInfoHashes = 16
    /// The longest cookie kept.
    public static let maxCookieLength = 64

    /// Why a datagram is not an announcement.
    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case tooLarge(Int)
        case notAnAnnouncement
        case badPort
        case noInfoHash

        public var description: String {
            switch self {
            case let .tooLarge(length): "a \(length)-byte datagram is too large for an announcement"
            case .notAnAnnouncement: "not a BT-SEARCH announcement"
            case .badPort: "no valid Port header"
            case .noInfoHash: "no valid Infohash header"
            }
        }
    }

    public init(port: UInt16, infoHashes: [InfoHash], cookie: String? = nil) {
        self.port = port
        self.infoHashes = infoHashes
        self.cookie = cookie
    }

    /// Parses a received datagram.
    public init(parsing datagram: some Collection<UInt8>) throws(ParseError) {
        guard datagram.count <= Self.maxDatagramLength else { throw .tooLarge(datagram.count) }
        // Lines are split on the bytes: as Characters, "\r\n" is one grapheme, not "\r" + "\n".
        var lines = Array(datagram).split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            Substring(String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self))
        }.makeIterator()
        guard let first = lines.next(), first == "BT-SEARCH * HTTP/1.1" else { throw .notAnAnnouncement }
        var port: UInt16?
        var hashes: [InfoHash] = []
        var cookie: String?
        while let line = lines.next(), !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = Self.trimmed(line[line.index(after: colon)...])
            switch name {
            case "port":
                guard let number = UInt16(value), number > 0 else { throw .badPort }
                port = number
            case "infohash":
                if hashes.count < Self.maxInfoHashes, value.utf8.count == 40, let hash = InfoHash(hex: String(value)),
                   !hashes.contains(hash) {
                    hashes.append(hash)
                }
            case "cookie":
                if value.utf8.count <= Self.maxCookieLength, value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
                    cookie = String(value)
                }
            default:
                continue
            }
        }
        guard let port else { throw .badPort }
        guard !hashes.isEmpty else { throw .noInfoHash }
        self.init(port: port, infoHashes: hashes, cookie: cookie)
    }

    /// `text` without the spaces and tabs around it.
    private static func trimmed(_ text: Substring) -> Substring {
        var result = text
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }

    /// The datagram to multicast to `host` (the group, with its port, as the Host header).
    public func encoded(host: String = "\(ipv4Group):\(groupPort)") -> [UInt8] {
        var text = "BT-SEARCH * HTTP/1.1\r\nHost: \(host)\r\nPort: \(port)\r\n"
        for hash in infoHashes { text += "Infohash: \(hash.hex)\r\n" }
        if let cookie { text += "cookie: \(cookie)\r\n" }
        text += "\r\n\r\n"
        return Array(text.utf8)
    }
}
