import SwarmHTTP

/// The HTTP server's request parsers: the input's first line is a request target, the rest a
/// `Range` header. A file route never names a path that leaves its torrent (no empty, `.`,
/// `..` segment, no `/`, `\` or NUL inside one); a partial range is non-empty and inside the file.
enum HTTPRequestFuzzCheck {
    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        let newline = input.firstIndex(of: UInt8(ascii: "\n")) ?? input.count
        let target = String(decoding: input[..<newline], as: UTF8.self)
        let range = newline < input.count ? String(decoding: input[(newline + 1)...], as: UTF8.self) : nil
        if case let .file(infoHash, path) = HTTPRoute.parse(target: target) {
            try require(infoHash.utf8.count == 40, .httpRequest, "info-hash \(infoHash.debugDescription)")
            for segment in path {
                try require(!segment.isEmpty && segment != "." && segment != ".."
                            && !segment.contains("/") && !segment.contains("\\") && !segment.contains("\0"),
                            .httpRequest, "segment \(segment.debugDescription) of \(target.debugDescription)")
            }
        }
        for length: Int64 in [0, 1, 10, 1 << 40, Int64.max] {
            if case let .partial(bytes) = ByteRangeRequest.decide(header: range, length: length) {
                try require(!bytes.isEmpty && bytes.lowerBound >= 0 && bytes.upperBound <= length, .httpRequest,
                            "range \(bytes) of a \(length)-byte file from \(String(describing: range).debugDescription)")
            }
        }
    }
}
