/// Why a session could not start or continue. Carries the file or peer involved.
public enum SessionError: Error, Sendable, CustomStringConvertible {
    /// The cache directory could not be prepared or checked.
    case cache(directory: String, detail: String)
    /// Another swarmfs process already uses this cache directory.
    case cacheInUse(directory: String)
    /// A `--peer` value is not HOST:PORT.
    case badPeerAddress(String)
    /// The listening socket could not be opened.
    case listen(host: String, port: UInt16?, detail: String)
    /// The session was shut down before the operation finished.
    case shutDown
    /// The cache ran out of space or failed while storing a piece.
    case storage(detail: String)
    /// The engine already runs this torrent.
    case duplicate(infoHash: String, name: String)
    /// The info dictionary a magnet link named arrived (its hash matched) but is not a valid torrent.
    case badMetadata(infoHash: String, detail: String)

    public var description: String {
        switch self {
        case let .cache(directory, detail): "cannot use cache directory \(directory): \(detail)"
        case let .cacheInUse(directory): "cache directory \(directory) is in use by another swarmfs process"
        case let .badPeerAddress(value): "peer address '\(value)' is not HOST:PORT"
        case let .listen(host, port, detail):
            "cannot listen on \(host):\(port.map(String.init) ?? "6881-6889"): \(detail)"
        case .shutDown: "the session was shut down"
        case let .storage(detail): "cache storage failed: \(detail)"
        case let .duplicate(infoHash, name): "torrent \(name) (\(infoHash)) is already running"
        case let .badMetadata(infoHash, detail): "the metadata of \(infoHash) is not a valid torrent: \(detail)"
        }
    }
}
