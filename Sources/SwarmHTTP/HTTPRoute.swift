/// What a request target names, decided from the raw target alone (no catalog lookup).
///
/// Paths are confined here: each segment is percent-decoded exactly once, and a segment that
/// decodes to `.` or `..`, holds a `/` (`%2F`), a backslash or a NUL, is not UTF-8, or is empty
/// makes the whole request a `.badRequest` (400) — never a lookup. A file path is matched
/// against the torrent's own file list afterwards, so nothing outside it can be named anyway;
/// the refusal makes attacks visible and keeps odd names from reaching a log unescaped.
public enum HTTPRoute: Equatable, Sendable {
    /// `/`: the web page.
    case page
    /// `/app.js`, `/style.css`: the page's own assets.
    case asset(String)
    /// `/status.json`.
    case status
    /// `/playlist.m3u`: every media file of every torrent.
    case playlistAll
    /// `/t/INFOHASH.m3u`: one torrent's media files.
    case playlist(infoHash: String)
    /// `/t/INFOHASH/PATH...`: one file, by its path in the torrent (as the mount shows it).
    case file(infoHash: String, path: [String])
    /// Nothing here (404).
    case notFound
    /// A target that is malformed or tries to leave its torrent (400), and why.
    case badRequest(String)

    /// The longest request target considered (longer: 414 would be exact, 400 is enough).
    public static let targetLimit = 8192

    /// The route of request target `target` (path and optional query; the query is ignored).
    public static func parse(target: String) -> HTTPRoute {
        let raw = Array(target.utf8)
        guard raw.count <= targetLimit else { return .badRequest("request target too long") }
        guard raw.first == UInt8(ascii: "/") else { return .badRequest("request target is not an absolute path") }
        let pathEnd = raw.firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? raw.count
        let rawSegments = raw[1..<pathEnd].split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        var segments: [String] = []
        for rawSegment in rawSegments {
            switch decodeSegment(Array(rawSegment)) {
            case let .success(segment): segments.append(segment)
            case let .failure(reason): return .badRequest(reason.text)
            }
        }
        if segments == [""] { return .page }
        if segments.contains("") { return .badRequest("empty path segment") }
        switch segments.count {
        case 1:
            switch segments[0] {
            case "status.json": return .status
            case "playlist.m3u": return .playlistAll
            case "index.html": return .page
            case let name where WebAssets.names.contains(name): return .asset(name)
            default: return .notFound
            }
        default:
            guard segments[0] == "t" else { return .notFound }
            if segments.count == 2 {
                let name = segments[1]
                guard name.hasSuffix(".m3u"), let hash = infoHash(String(name.dropLast(4))) else { return .notFound }
                return .playlist(infoHash: hash)
            }
            guard let hash = infoHash(segments[1]) else { return .notFound }
            return .file(infoHash: hash, path: Array(segments.dropFirst(2)))
        }
    }

    /// 40 hex digits, lowercased; nil otherwise.
    static func infoHash(_ text: String) -> String? {
        let utf8 = text.utf8
        guard utf8.count == 40, utf8.allSatisfy({ hexValue($0) != nil }) else { return nil }
        return text.lowercased()
    }

    struct SegmentError: Error { let text: String }

    /// One segment, percent-decoded once and checked (see the type's comment).
    static func decodeSegment(_ bytes: [UInt8]) -> Result<String, SegmentError> {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    return .failure(SegmentError(text: "malformed percent-encoding"))
                }
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(byte)
                index += 1
            }
        }
        if decoded.contains(0) { return .failure(SegmentError(text: "NUL in path")) }
        if decoded.contains(UInt8(ascii: "/")) { return .failure(SegmentError(text: "encoded slash in path")) }
        if decoded.contains(UInt8(ascii: "\\")) { return .failure(SegmentError(text: "backslash in path")) }
        if decoded == [UInt8(ascii: ".")] || decoded == [UInt8(ascii: "."), UInt8(ascii: ".")] {
            return .failure(SegmentError(text: "dot segment in path"))
        }
        guard let text = String(validating: decoded, as: UTF8.self) else {
            return .failure(SegmentError(text: "path is not UTF-8"))
        }
        return .success(text)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
