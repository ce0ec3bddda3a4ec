import CFuse3
import Dispatch
import Logging
import SwarmFS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Tells the kernel that entries or inodes it may have cached changed
/// (`fuse_lowlevel_notify_inval_entry`/`_inval_inode`). libfuse requires these not to come from
/// a worker that is handling a request (the kernel may wait for that very request), so they go
/// out, in order, from a serial queue of their own; callers never wait for them.
///
/// Invariant: `session` is non-nil only while the FUSE session exists; `detach()` (before the
/// session is destroyed) makes every later notification a no-op, and waits for the one being
/// sent.
final class KernelNotifier: FSChangeNotifier {
    /// The libfuse session pointer; only used under `session`'s lock.
    private struct Session: @unchecked Sendable {
        let raw: OpaquePointer
    }

    private let session: Mutex<Session?>
    private let queue = DispatchQueue(label: "swarmfs.kernel-notifier")
    private let logger: Logger

    init(session: OpaquePointer?, logger: Logger) {
        self.session = Mutex(session.map(Session.init(raw:)))
        self.logger = logger
    }

    func entryChanged(parent: UInt64, name: String) {
        queue.async { [self] in
            let status: Int32? = session.withLock { session in
                guard let session else { return nil }
                return name.withCString { fuse_lowlevel_notify_inval_entry(session.raw, parent, $0, strlen($0)) }
            }
            report(status, "entry", "\(parent)/\(name)")
        }
    }

    func inodeChanged(_ inode: UInt64) {
        queue.async { [self] in
            let status: Int32? = session.withLock { session in
                guard let session else { return nil }
                return fuse_lowlevel_notify_inval_inode(session.raw, inode, 0, 0)
            }
            report(status, "inode", "\(inode)")
        }
    }

    /// No notification reaches the session after this returns.
    func detach() {
        session.withLock { $0 = nil }
    }

    private func report(_ status: Int32?, _ kind: String, _ what: String) {
        // ENOENT: the kernel had nothing cached for it, which is fine.
        guard let status, status != 0, status != -ENOENT else { return }
        logger.debug("kernel invalidation failed", metadata: ["\(kind)": "\(what)", "errno": "\(-status)"])
    }
}

extension KernelNotifier {
    /// A notifier that drops everything (for a mount that is already closed).
    static let detached = KernelNotifier(session: nil, logger: Logger(label: "swarmfs.detached"))
}
