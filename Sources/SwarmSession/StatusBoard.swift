import Synchronization

/// The latest `SessionStatus`, published by the Foreman a few times a second and read from any
/// thread (the filesystem's status attribute, the progress line).
final class StatusBoard: Sendable {
    private let status: Mutex<SessionStatus>

    init(_ initial: SessionStatus) {
        status = Mutex(initial)
    }

    var current: SessionStatus { status.withLock { $0 } }

    func publish(_ new: SessionStatus) {
        status.withLock { $0 = new }
    }

    func setCacheDiskBytes(_ bytes: Int64) {
        status.withLock { $0.cacheDiskBytes = bytes }
    }
}
