import SwarmStorage

extension StorageError {
    /// The kind of failure a reader is told about (carried in `ContentReadError.storage`).
    public var readFailureKind: StorageFailureKind {
        switch self {
        case .diskFull: .noSpace
        case let .io(_, _, _, code): .systemCall(errno: code)
        case .readOnly: .readOnly
        case .shortFile: .damaged
        default: .unavailable
        }
    }

    /// Whether this is another process holding the cache directory.
    var isLockHeld: Bool {
        if case .locked = self { return true }
        return false
    }
}
