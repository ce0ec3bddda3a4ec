/// Why a filesystem operation fails. The FUSE layer alone decides which errno the kernel gets.
public enum FSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No such inode, or no entry `name` in directory `parent`.
    case notFound(inode: UInt64, name: String?)
    /// A directory operation on a file.
    case notDirectory(inode: UInt64)
    /// A file operation on a directory.
    case isDirectory(inode: UInt64)
    /// The filesystem is read-only: any write, create or change.
    case readOnly(operation: String)
    /// A file handle that was never opened or is already released.
    case badHandle(UInt64)
    /// No such extended attribute.
    case noAttribute(inode: UInt64, name: String)
    /// The caller's buffer is smaller than the value.
    case bufferTooSmall(needed: Int, given: Int)
    /// The caller gave up (a signal interrupted it) while the operation waited.
    case interrupted(operation: String)

    public var description: String {
        switch self {
        case let .notFound(inode, name):
            name.map { "no entry '\($0)' in directory inode \(inode)" } ?? "no inode \(inode)"
        case let .notDirectory(inode): "inode \(inode) is not a directory"
        case let .isDirectory(inode): "inode \(inode) is a directory"
        case let .readOnly(operation): "\(operation): the filesystem is read-only"
        case let .badHandle(handle): "file handle \(handle) is not open"
        case let .noAttribute(inode, name): "inode \(inode) has no attribute \(name)"
        case let .bufferTooSmall(needed, given): "attribute needs \(needed) bytes, buffer has \(given)"
        case let .interrupted(operation): "\(operation): interrupted"
        }
    }
}
