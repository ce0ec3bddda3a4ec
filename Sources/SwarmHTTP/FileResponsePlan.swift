import NIOHTTP1
import SwarmFS

/// How to answer a GET or HEAD of one file: status, headers and which bytes (if any) to send.
/// Pure: decided from the request headers and the file alone.
struct FileResponsePlan: Equatable {
    var status: HTTPResponseStatus
    var headers: [(String, String)]
    /// The byte range of the file to send; nil when no body goes out (HEAD, 304, 416, empty).
    var body: Range<Int64>?

    static func == (lhs: FileResponsePlan, rhs: FileResponsePlan) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body
            && lhs.headers.map { "\($0.0):\($0.1)" } == rhs.headers.map { "\($0.0):\($0.1)" }
    }

    /// The entity tag of a file: the torrent's info-hash and the file's index pin its bytes.
    static func entityTag(infoHash: String, fileIndex: Int) -> String {
        "\"\(infoHash)-\(fileIndex)\""
    }

    static func make(method: HTTPMethod, headers request: HTTPHeaders, infoHash: String, modified: Int64,
                     file: FSFileEntry) -> FileResponsePlan {
        let length = max(0, file.length)
        let tag = entityTag(infoHash: infoHash, fileIndex: file.fileIndex)
        let lastModified = HTTPDate.format(modified)
        var headers: [(String, String)] = [
            ("Accept-Ranges", "bytes"), ("ETag", tag), ("Last-Modified", lastModified),
            ("Content-Type", MediaType.of(file.path.last ?? "")), ("X-Content-Type-Options", "nosniff"),
        ]
        if let match = request.first(name: "If-None-Match"), matches(match, tag: tag) {
            headers.append(("Content-Length", "0"))
            return FileResponsePlan(status: .notModified, headers: headers, body: nil)
        }
        var rangeHeader = request.first(name: "Range")
        // If-Range: the range holds only for this very file; a stale validator gets it all.
        if let validator = request.first(name: "If-Range"), validator != tag, validator != lastModified {
            rangeHeader = nil
        }
        switch ByteRangeRequest.decide(header: rangeHeader, length: length) {
        case .full:
            headers.append(("Content-Length", String(length)))
            return FileResponsePlan(status: .ok, headers: headers,
                                    body: method == .GET && length > 0 ? 0..<length : nil)
        case let .partial(range):
            headers.append(("Content-Length", String(range.count)))
            headers.append(("Content-Range", "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(length)"))
            return FileResponsePlan(status: .partialContent, headers: headers, body: method == .GET ? range : nil)
        case .unsatisfiable:
            headers.append(("Content-Length", "0"))
            headers.append(("Content-Range", "bytes */\(length)"))
            return FileResponsePlan(status: .rangeNotSatisfiable, headers: headers, body: nil)
        }
    }

    /// Whether an If-None-Match list names `tag` (weak comparison, as RFC 9110 asks for it).
    static func matches(_ list: String, tag: String) -> Bool {
        list.split(separator: ",").contains { item in
            var candidate = item.drop { $0 == " " || $0 == "\t" }
            while let last = candidate.last, last == " " || last == "\t" { candidate = candidate.dropLast() }
            if candidate == "*" { return true }
            if candidate.hasPrefix("W/") { candidate = candidate.dropFirst(2) }
            return candidate == tag
        }
    }
}
