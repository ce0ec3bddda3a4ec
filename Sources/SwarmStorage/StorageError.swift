import Glibc

/// Everything that can go wrong in the cache, with the file, piece and errno involved so a log line
/// or a CLI message can say exactly what failed.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The filesystem holding the cache is full (ENOSPC or EDQUOT) while writing `path`.
    case diskFull(path: String, piece: Int?)
    /// A system call failed; `operation` names it ("pwrite", "open", ...).
    case io(operation: String, path: String, piece: Int?, errno: Int32)
    /// A file that a read needs does not exist in the cache.
    case missingFile(path: String, piece: Int?)
    /// A file ends before the bytes a read needs.
    case shortFile(path: String, piece: Int?, needed: Int64, actual: Int64)
    /// A path component from the layout is empty, ".", ".." or contains "/" (refused, never joined).
    case unsafePath(components: [String])
    /// A piece index outside the torrent, or a block outside its piece.
    case outOfRange(piece: Int, begin: Int, length: Int)
    /// A caller's buffer does not have the size the piece or block needs.
    case bufferSize(piece: Int, expected: Int, actual: Int)
    /// Another process holds the cache directory's lock.
    case locked(directory: String)
    /// The cache has no torrent matching the given info-hash or name.
    case noSuchCacheEntry(String)
    /// More than one cached torrent matches the given name.
    case ambiguousCacheEntry(String, matches: [String])
    /// The store was opened read-only and a write was attempted.
    case readOnly(path: String)
    /// Something other than a regular file or directory (a symlink, a FIFO, a device) sits where
    /// the cache folder should hold one of ours; never followed, opened or written.
    case unsafeEntry(path: String, kind: EntryKind)

    public var description: String {
        switch self {
        case let .diskFull(path, piece):
            return "the disk is full writing \(path)\(Self.pieceSuffix(piece))"
        case let .io(operation, path, piece, code):
            return "\(operation) failed on \(path)\(Self.pieceSuffix(piece)): \(String(cString: strerror(code)))"
        case let .missingFile(path, piece):
            return "\(path) does not exist\(Self.pieceSuffix(piece))"
        case let .shortFile(path, piece, needed, actual):
            return "\(path) holds \(actual) bytes but \(needed) are needed\(Self.pieceSuffix(piece))"
        case let .unsafePath(components):
            return "refusing unsafe path \(components)"
        case let .outOfRange(piece, begin, length):
            return "piece \(piece) range \(begin)+\(length) is outside the torrent"
        case let .bufferSize(piece, expected, actual):
            return "buffer for piece \(piece) holds \(actual) bytes, \(expected) expected"
        case let .locked(directory):
            return "\(directory) is in use by another swarmfs process"
        case let .noSuchCacheEntry(key):
            return "no cached torrent matches \(key)"
        case let .ambiguousCacheEntry(key, matches):
            return "\(key) matches several cached torrents (\(matches.joined(separator: ", ")))"
        case let .readOnly(path):
            return "\(path) was opened read-only"
        case let .unsafeEntry(path, kind):
            return "refusing \(path): it is a \(kind.rawValue), and swarmfs neither follows nor opens "
                + "anything but regular files and directories inside a cache folder"
        }
    }

    private static func pieceSuffix(_ piece: Int?) -> String {
        piece.map { " (piece \($0))" } ?? ""
    }

    /// The same error, naming `piece` as the one it happened for (when it carries a piece).
    func attributed(to piece: Int?) -> StorageError {
        guard let piece else { return self }
        switch self {
        case let .diskFull(path, nil): return .diskFull(path: path, piece: piece)
        case let .io(operation, path, nil, code): return .io(operation: operation, path: path, piece: piece, errno: code)
        case let .missingFile(path, nil): return .missingFile(path: path, piece: piece)
        default: return self
        }
    }

    /// Maps an errno from a write path to `.diskFull` or `.io`.
    static func fromWrite(_ operation: String, path: String, piece: Int?, errno code: Int32) -> StorageError {
        if code == ENOSPC || code == EDQUOT {
            return .diskFull(path: path, piece: piece)
        }
        return .io(operation: operation, path: path, piece: piece, errno: code)
    }
}
