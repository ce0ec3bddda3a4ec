import SwarmStorage

extension StorageError {
    /// Whether this is another process holding the cache directory.
    var isLockHeld: Bool {
        if case .locked = self { return true }
        return false
    }
}
