/// The parts of a tracker URL that the UDP client needs; HTTP URLs go to AsyncHTTPClient whole.
struct TrackerURL: Sendable, Hashable {
    enum Scheme: String, Sendable { case http, https, udp }

    var scheme: Scheme
    var host: String
    var port: Int

    /// Parses `scheme://host[:port][/path]`, with `[v6]` hosts. The default port is the scheme's
    /// (80, 443; UDP has none, so UDP URLs need one).
    init(_ text: String) throws(TrackerError) {
        guard let schemeEnd = text.range(of: "://") else { throw .unsupportedScheme(text) }
        guard let scheme = Scheme(rawValue: text[..<schemeEnd.lowerBound].lowercased()) else {
            throw .unsupportedScheme(text)
        }
        var authority = text[schemeEnd.upperBound...]
        if let end = authority.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) {
            authority = authority[..<end]
        }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .unsupportedScheme(text) }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let rest = authority[authority.index(after: close)...]
            if rest.hasPrefix(":") { portText = rest.dropFirst() } else if !rest.isEmpty { throw .unsupportedScheme(text) }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw .unsupportedScheme(text) }

        let port: Int
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { throw .unsupportedScheme(text) }
            port = value
        } else {
            switch scheme {
            case .http: port = 80
            case .https: port = 443
            case .udp: throw .unsupportedScheme(text)
            }
        }
        self.scheme = scheme
        self.host = String(host)
        self.port = port
    }
}
