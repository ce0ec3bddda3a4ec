/// An IPv4 or IPv6 address as its raw network-order bytes, with the textual forms peers, trackers,
/// magnet links and DHT nodes use.
///
/// Invariant: `bytes` holds exactly 4 (IPv4) or 16 (IPv6) bytes. An IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`) stays a 16-byte IPv6 address: which family a peer came in on matters to
/// the compact lists (`added` vs `added6`, `nodes` vs `nodes6`).
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address in network byte order: 4 or 16 bytes.
    public let bytes: [UInt8]

    /// Wraps 4 or 16 raw bytes; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = Array(bytes)
    }

    /// Parses a dotted-quad IPv4 literal (`192.0.2.1`) or an IPv6 literal (`2001:db8::1`,
    /// `::ffff:192.0.2.1`), without brackets, zone or prefix length; nil for anything else,
    /// including host names. Octets with leading zeros are refused: some parsers read them as
    /// octal, so `010.0.0.1` names different hosts to different programs.
    public init?(text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        // The longest IPv6 literal is 45 characters; refusing longer text bounds the work.
        guard !utf8.isEmpty, utf8.count <= 45 else { return nil }
        if let v4 = Self.parseIPv4(utf8[...]) {
            bytes = v4
        } else if let v6 = Self.parseIPv6(utf8) {
            bytes = v6
        } else {
            return nil
        }
    }

    /// True for a 4-byte address.
    public var isIPv4: Bool { bytes.count == 4 }

    /// Dotted decimal for IPv4; RFC 5952 text for IPv6 (lower case, the longest run of two or
    /// more zero groups as `::`, IPv4-mapped addresses as `::ffff:a.b.c.d`).
    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        var groups: [UInt16] = []
        for index in stride(from: 0, to: 16, by: 2) {
            groups.append(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]))
        }
        if groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xffff {
            return "::ffff:" + bytes[12...].map(String.init).joined(separator: ".")
        }
        // The longest run of zero groups (the first one on a tie), if at least two long.
        var bestStart = -1, bestLength = 0, runStart = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength { bestStart = runStart; bestLength = index - runStart }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard bestLength >= 2 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    // MARK: - Parsing

    /// Four decimal octets 0...255 separated by dots, no leading zeros.
    private static func parseIPv4(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var result: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(isDigit) else { return nil }
            if part.count > 1 && part.first == UInt8(ascii: "0") { return nil }
            let value = part.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard value <= 255 else { return nil }
            result.append(UInt8(value))
        }
        return result
    }

    /// Up to eight groups of 1-4 hex digits, at most one `::`, optionally ending in a dotted quad
    /// that stands for the last two groups.
    private static func parseIPv6(_ text: [UInt8]) -> [UInt8]? {
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawDoubleColon = false
        var index = 0
        if text.starts(with: [UInt8(ascii: ":"), UInt8(ascii: ":")]) {
            sawDoubleColon = true
            index = 2
        } else if text.first == UInt8(ascii: ":") {
            return nil
        }
        while index < text.count {
            // One group (or a trailing dotted quad), then ":" / "::" / end.
            var end = index
            while end < text.count, text[end] != UInt8(ascii: ":") { end += 1 }
            let field = text[index..<end]
            if field.contains(UInt8(ascii: ".")) {
                // An embedded IPv4 address only as the last field.
                guard end == text.count, let quad = parseIPv4(field) else { return nil }
                let groups = [UInt16(quad[0]) << 8 | UInt16(quad[1]), UInt16(quad[2]) << 8 | UInt16(quad[3])]
                if sawDoubleColon { tail += groups } else { head += groups }
                index = end
                break
            }
            guard (1...4).contains(field.count), let value = UInt16(String(decoding: field, as: UTF8.self), radix: 16),
                  field.allSatisfy(isHexDigit) else { return nil }
            if sawDoubleColon { tail.append(value) } else { head.append(value) }
            guard head.count + tail.count <= 8 else { return nil }
            index = end
            if index == text.count { break }
            index += 1  // ":"
            if index < text.count, text[index] == UInt8(ascii: ":") {
                guard !sawDoubleColon else { return nil }
                sawDoubleColon = true
                index += 1
            } else if index == text.count {
                return nil  // a single trailing ":"
            }
        }
        let count = head.count + tail.count
        if sawDoubleColon {
            // "::" stands for at least one zero group.
            guard count <= 7 else { return nil }
        } else {
            guard count == 8 else { return nil }
        }
        let groups = head + [UInt16](repeating: 0, count: 8 - count) + tail
        return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
    }
}
