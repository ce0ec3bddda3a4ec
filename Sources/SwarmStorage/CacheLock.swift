import Glibc
import Synchronization

/// An exclusive `flock` on DIR/.swarmfs/lock so two processes (two mounts, a mount and a
/// download, `cache remove` of a mounted torrent) never share one cache directory. The kernel
/// drops the lock when the process dies, so a crash never leaves a stale lock.
public final class CacheLock: Sendable {
    /// The cache directory this lock guards.
    public let directory: String
    private let descriptor: Mutex<Int32>

    private init(directory: String, fd: Int32) {
        self.directory = directory
        self.descriptor = Mutex(fd)
    }

    deinit {
        release()
    }

    /// The lock file's name inside DIR/.swarmfs/.
    static let fileName = "lock"

    /// Where the lock file lives for a cache directory.
    public static func path(directory: String) -> String {
        StateDirectory.path(directory) + "/" + fileName
    }

    /// Takes the lock without waiting (creating DIR/.swarmfs/ if needed); `.locked` if another
    /// holder has it, `.unsafeEntry` if a symlink, FIFO or other non-file sits where the lock
    /// file belongs (it is never followed, opened for writing or truncated). The lock file holds
    /// the holder's PID, for people reading it.
    public static func acquire(directory: String) throws(StorageError) -> CacheLock {
        let lockPath = path(directory: directory)
        let fd = try StateDirectory.openFile(directory, fileName, flags: O_RDWR | O_CREAT)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let failure = errno
            Glibc.close(fd)
            if failure == EWOULDBLOCK { throw .locked(directory: directory) }
            throw .io(operation: "flock", path: lockPath, piece: nil, errno: failure)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { PosixIO.writeFully(fd, $0, at: 0) }
        return CacheLock(directory: directory, fd: fd)
    }

    /// Whether some holder (this process included) has the directory locked right now.
    public static func isHeld(directory: String) -> Bool {
        guard let fd = try? StateDirectory.openFile(directory, fileName, flags: O_RDONLY) else { return false }
        defer { Glibc.close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            _ = flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }

    /// Drops the lock (idempotent).
    public func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            _ = flock(fd, LOCK_UN)
            Glibc.close(fd)
            fd = -1
        }
    }
}
