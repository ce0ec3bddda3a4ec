import SwarmSession

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a filesystem operation fails. The FUSE layer replies with `errno`.
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

    /// The errno value the kernel gets.
    public var errno: Int32 {
        switch self {
        case .notFound: ENOENT
        case .notDirectory: ENOTDIR
        case .isDirectory: EISDIR
        case .readOnly: EROFS
        case .badHandle: EBADF
        case .noAttribute: ENODATA
        case .bufferTooSmall: ERANGE
        }
    }

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
        }
    }
}

extension ContentReadError {
    /// The errno a reader sees: EINTR when its read was interrupted, EIO when the data could not
    /// be had (timeout, shutdown), the storage's own errno otherwise.
    public var errno: Int32 {
        switch self {
        case .cancelled: EINTR
        case .timedOut: EIO
        case .shutdown: EIO
        case let .storage(_, code, _): code > 0 ? code : EIO
        case .invalidRange: EINVAL
        }
    }
}
