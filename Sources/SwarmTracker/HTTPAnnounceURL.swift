/// Builds the GET URL of an HTTP announce (BEP 3, BEP 23).
enum HTTPAnnounceURL {
    /// `base` plus the announce parameters, appended with `&` when `base` already has a query.
    static func make(base: String, request: AnnounceRequest) -> String {
        var parameters: [(String, String)] = [
            ("info_hash", URLPercentEncoding.encode(request.infoHash.bytes)),
            ("peer_id", URLPercentEncoding.encode(request.peerID)),
            ("port", String(request.port)),
            ("uploaded", String(max(0, request.uploaded))),
            ("downloaded", String(max(0, request.downloaded))),
            ("left", String(max(0, request.left))),
            ("compact", "1"),
            ("numwant", String(max(0, request.numWant))),
            ("key", hex(request.key)),
        ]
        if let event = request.event.httpValue { parameters.append(("event", event)) }
        if let trackerID = request.trackerID { parameters.append(("trackerid", URLPercentEncoding.encode(trackerID))) }

        // A fragment, if any, must stay after the query.
        var url = base
        var fragment = ""
        if let hash = url.firstIndex(of: "#") {
            fragment = String(url[hash...])
            url = String(url[..<hash])
        }
        url += url.contains("?") ? (url.hasSuffix("?") || url.hasSuffix("&") ? "" : "&") : "?"
        url += parameters.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        return url + fragment
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
