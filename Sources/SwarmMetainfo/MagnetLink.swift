/// Why a string is not a usable magnet link.
public enum MagnetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// It does not start with `magnet:?`.
    case notAMagnetLink
    /// No `xt=urn:btih:` parameter.
    case missingInfoHash
    /// The `btih` value is neither 40 hex digits nor 32 base32 characters.
    case invalidInfoHash(String)
    /// `xl` is not a non-negative integer.
    case invalidLength(String)
    /// A `%` escape is malformed or the result is not UTF-8.
    case invalidEncoding(parameter: String)

    public var description: String {
        switch self {
        case .notAMagnetLink: "not a magnet link (expected 'magnet:?...')"
        case .missingInfoHash: "the magnet link has no 'xt=urn:btih:' info-hash"
        case let .invalidInfoHash(value): "the magnet link's info-hash '\(value)' is not 40 hex or 32 base32 characters"
        case let .invalidLength(value): "the magnet link's length 'xl=\(value)' is not a byte count"
        case let .invalidEncoding(parameter): "the magnet link's '\(parameter)' parameter is badly escaped"
        }
    }
}

/// A parsed BEP 9 magnet link: `magnet:?xt=urn:btih:<hash>&dn=…&tr=…&x.pe=…&ws=…&xl=…`.
public struct MagnetLink: Sendable, Hashable {
    /// The torrent's info-hash (from hex or base32).
    public let infoHash: InfoHash
    /// `dn`: a display name, if given.
    public let displayName: String?
    /// `tr`: tracker URLs, in order.
    public let trackers: [String]
    /// `x.pe`: peer addresses as written (`host:port`, `[ipv6]:port`), in order.
    public let peers: [String]
    /// `ws`: web seed URLs (BEP 19), in order.
    public let webSeeds: [String]
    /// `xl`: exact payload length, if given.
    public let exactLength: Int64?

    /// Creates a magnet link from parts.
    public init(infoHash: InfoHash, displayName: String? = nil, trackers: [String] = [],
                peers: [String] = [], exactLength: Int64? = nil, webSeeds: [String] = []) {
        self.infoHash = infoHash
        self.displayName = displayName
        self.trackers = trackers
        self.peers = peers
        self.exactLength = exactLength
        self.webSeeds = webSeeds
    }

    /// The `x.pe` peers that parse as `hostname:port`, `ipv4:port` or `[ipv6]:port`
    /// (`PeerAddress(parsing:)`), in order, without repeats; the others are left out.
    public var peerAddresses: [PeerAddress] {
        var seen = Set<PeerAddress>()
        return peers.compactMap { PeerAddress(parsing: $0) }.filter { seen.insert($0).inserted }
    }

    /// Parses a magnet URI. Unknown parameters are ignored; the first `btih` wins.
    public init(parsing text: String) throws(MagnetError) {
        let trimmedText = text.trimmingPrefix(while: \.isWhitespace)
        guard trimmedText.lowercased().hasPrefix("magnet:?") else { throw .notAMagnetLink }
        let query = trimmedText.dropFirst("magnet:?".count)
        var hash: InfoHash?
        var name: String?
        var trackers: [String] = []
        var peers: [String] = []
        var webSeeds: [String] = []
        var length: Int64?
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]).lowercased()
            let rawValue = parts.count > 1 ? String(parts[1]) : ""
            guard let value = Self.percentDecoded(rawValue, plusIsSpace: key == "dn") else {
                throw .invalidEncoding(parameter: key)
            }
            switch key {
            case "xt":
                let prefix = "urn:btih:"
                guard hash == nil, value.lowercased().hasPrefix(prefix) else { continue }
                let encoded = String(value.dropFirst(prefix.count))
                guard let parsed = Self.infoHash(encoded) else { throw .invalidInfoHash(encoded) }
                hash = parsed
            case "dn":
                name = value
            case "tr":
                if !value.isEmpty { trackers.append(value) }
            case "x.pe":
                if !value.isEmpty { peers.append(value) }
            case "ws":
                if !value.isEmpty { webSeeds.append(value) }
            case "xl":
                guard let parsed = Int64(value), parsed >= 0 else { throw .invalidLength(value) }
                length = parsed
            default:
                continue
            }
        }
        guard let hash else { throw .missingInfoHash }
        self.init(infoHash: hash, displayName: name, trackers: trackers, peers: peers, exactLength: length,
                  webSeeds: webSeeds)
    }

    /// The link as a URI (hex info-hash, parameters percent-encoded).
    public var uri: String {
        var text = "magnet:?xt=urn:btih:" + infoHash.hex
        if let displayName { text += "&dn=" + Self.percentEncoded(displayName) }
        if let exactLength { text += "&xl=\(exactLength)" }
        for tracker in trackers { text += "&tr=" + Self.percentEncoded(tracker) }
        for peer in peers { text += "&x.pe=" + Self.percentEncoded(peer) }
        for webSeed in webSeeds { text += "&ws=" + Self.percentEncoded(webSeed) }
        return text
    }

    private static func infoHash(_ encoded: String) -> InfoHash? {
        switch encoded.utf8.count {
        case 40: InfoHash(hex: encoded)
        case 32: Base32.decode(encoded).flatMap { InfoHash(bytes: $0) }
        default: nil
        }
    }

    static func percentDecoded(_ text: String, plusIsSpace: Bool) -> String? {
        let utf8 = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < utf8.count,
                      let high = Hex.nibble(utf8[index + 1]), let low = Hex.nibble(utf8[index + 2]) else {
                    return nil
                }
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return String(validating: output, as: UTF8.self)
    }

    static func percentEncoded(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                output += "%" + Hex.encode([byte]).uppercased()
            }
        }
        return output
    }
}

/// RFC 4648 base32 (no padding), as used by old magnet links.
enum Base32 {
    static func decode(_ text: String) -> [UInt8]? {
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            let value: UInt8
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a")
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = byte - UInt8(ascii: "2") + 26
            default: return nil
            }
            buffer = buffer << 5 | UInt32(value)
            bits += 5
            if bits >= 8 {
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)))
                bits -= 8
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        return output
    }
}
