import Logging
import SwarmHTTP

/// The value of `--http [HOST:]PORT`: where the HTTP server listens (loopback unless a host is given).
struct HTTPAddress: Equatable {
    var host: String
    var port: Int

    /// The help text every `--http` option shows, with the risk of binding beyond loopback.
    static let help = """
        Serve the files over HTTP at [HOST:]PORT (web page, Range streaming, M3U playlists). \
        HOST defaults to 127.0.0.1. Any other address (0.0.0.0, a LAN address) lets every machine \
        that reaches it read the torrent's files, its status and your cache, with no password: \
        use it only on a network you trust.
        """

    /// Parses `PORT`, `HOST:PORT` or `[IPV6]:PORT`; nil for anything else (port 0 allowed: any free port).
    static func parse(_ text: String) -> HTTPAddress? {
        var host = "127.0.0.1"
        var portText = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else { return nil }
        }
        guard !host.isEmpty, !portText.isEmpty, portText.count <= 5,
              portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), port <= 65535 else { return nil }
        return HTTPAddress(host: host, port: port)
    }

    /// Starts a server for `catalog` here (blocking; for the mount daemons' threads).
    @available(*, noasync)
    func startServer(_ catalog: any HTTPCatalog, logger: Logger) throws(HTTPServerError) -> HTTPServer {
        try HTTPServer.start(catalog: catalog, configuration: configuration, logger: logger)
    }

    var configuration: HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration()
        configuration.host = host
        configuration.port = port
        return configuration
    }
}
