#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwarmContent
import SwarmFS

// The one place where typed errors from the layers below become the errno of a FUSE reply.
// The layers below say what went wrong (and where); only this module picks the reply code.

extension FSError {
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
        case .interrupted: EINTR
        }
    }
}

extension ContentReadError {
    /// The errno a reader sees: EINTR when its read was interrupted, EIO when the data could not
    /// be had (timeout, shutdown), the storage failure's own errno otherwise.
    public var errno: Int32 {
        switch self {
        case .cancelled: EINTR
        case .timedOut: EIO
        case .shutdown: EIO
        case let .storage(_, kind, _): kind.errno
        case .invalidRange: EINVAL
        }
    }
}

extension StorageFailureKind {
    /// ENOSPC, EROFS, the system call's own errno when it reported one, EIO otherwise.
    public var errno: Int32 {
        switch self {
        case .noSpace: ENOSPC
        case .readOnly: EROFS
        case .damaged, .unavailable: EIO
        case let .systemCall(code): code > 0 ? code : EIO
        }
    }
}
