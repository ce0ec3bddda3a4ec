/// Why the library, or one torrent of it, cannot do what it was asked.
public enum LibraryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The library folder cannot be watched.
    case watch(directory: String, reason: String)
    /// A torrent's session did not start.
    case startFailed(infoHash: String, name: String, detail: String)

    public var description: String {
        switch self {
        case let .watch(directory, reason): "cannot watch library folder \(directory): \(reason)"
        case let .startFailed(infoHash, name, detail): "torrent \(name) (\(infoHash)) did not start: \(detail)"
        }
    }
}
