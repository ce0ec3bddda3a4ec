import Glibc
import SwarmStorage

extension StorageError {
    /// The errno a reader should see for this failure (carried in `ContentReadError.storage`).
    public var errnoValue: Int32 {
        switch self {
        case .diskFull: ENOSPC
        case let .io(_, _, _, code): code == 0 ? EIO : code
        case .readOnly: EROFS
        default: EIO
        }
    }

    /// Whether this is another process holding the cache directory.
    var isLockHeld: Bool {
        if case .locked = self { return true }
        return false
    }
}
