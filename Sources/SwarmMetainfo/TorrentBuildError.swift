/// Why `swarmfs create` could not make a torrent. Every case names the path involved.
public enum TorrentBuildError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The source path does not exist or cannot be inspected.
    case cannotAccess(path: String, reason: String)
    /// The source is neither a regular file nor a directory.
    case unsupportedFileType(path: String)
    /// The source holds no data to hash (no files, or only empty ones).
    case noData(path: String)
    /// A file could not be read while hashing.
    case readFailed(path: String, reason: String)
    /// A file got shorter while it was being hashed.
    case fileChanged(path: String)
    /// The piece length is not a power of two between 16 KiB and 256 MiB.
    case invalidPieceLength(Int)

    public var description: String {
        switch self {
        case let .cannotAccess(path, reason): "cannot access \(path): \(reason)"
        case let .unsupportedFileType(path): "\(path) is not a regular file or a directory"
        case let .noData(path): "\(path) contains no data to make a torrent of"
        case let .readFailed(path, reason): "cannot read \(path): \(reason)"
        case let .fileChanged(path): "\(path) changed while it was being hashed"
        case let .invalidPieceLength(length):
            "piece length \(length) is not a power of two between 16 KiB and 256 MiB"
        }
    }
}
