#if canImport(Glibc)
import Glibc
#endif

/// Why a directory cannot be mounted on.
public enum MountpointError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing(String)
    case notDirectory(String)
    case notEmpty(String)
    case alreadyMounted(String)
    case noFuseDevice
    /// /dev/fuse exists but is some other device (a container or a bind mount hid it).
    case notFuseDevice(major: UInt32, minor: UInt32)
    case inaccessible(String, errno: Int32)
    case staleMountNotCleared(String)

    public var description: String {
        switch self {
        case let .missing(path): "mountpoint \(path) does not exist"
        case let .notDirectory(path): "mountpoint \(path) is not a directory"
        case let .notEmpty(path): "mountpoint \(path) is not empty"
        case let .alreadyMounted(path): "\(path) is already mounted"
        case .noFuseDevice: "/dev/fuse is missing or not accessible (is the fuse module loaded?)"
        case let .notFuseDevice(major, minor):
            "/dev/fuse is not the FUSE device (it is device \(major):\(minor), not 10:229), so nothing can be mounted"
        case let .inaccessible(path, code): "cannot access mountpoint \(path): \(String(cString: strerror(code)))"
        case let .staleMountNotCleared(path): "\(path) holds a dead FUSE mount that could not be cleared"
        }
    }
}

/// Checks a mountpoint before mounting, clearing a stale mount left by a killed process.
public enum MountpointCheck {
    /// Whether `path` (absolute, normalised) is a mountpoint now.
    public static func isMounted(_ path: String) -> Bool {
        MountTable.mount(at: path) != nil
    }

    /// The FUSE device node is character device 10:229 on Linux: anything else at /dev/fuse
    /// (a bind mount, a container's placeholder) would only fail later, inside libfuse, with a
    /// message nobody sees from a daemon.
    static func checkFuseDevice() throws(MountpointError) {
        guard access("/dev/fuse", R_OK | W_OK) == 0 else { throw .noFuseDevice }
        var info = stat()
        guard stat("/dev/fuse", &info) == 0 else { throw .noFuseDevice }
        let major = UInt32((info.st_rdev >> 8) & 0xfff), minor = UInt32((info.st_rdev & 0xff) | ((info.st_rdev >> 12) & 0xfff00))
        guard info.st_mode & S_IFMT == S_IFCHR, major == 10, minor == 229 else {
            throw .notFuseDevice(major: major, minor: minor)
        }
    }

    /// Checks that `path` (absolute) is an existing, empty, unmounted directory and /dev/fuse
    /// is usable. A dead FUSE mount (ENOTCONN) is lazily unmounted first.
    /// Returns true when a stale mount was cleared.
    @discardableResult
    public static func prepare(_ path: String) throws(MountpointError) -> Bool {
        try checkFuseDevice()
        var info = stat()
        var clearedStale = false
        if stat(path, &info) != 0 {
            let code = errno
            switch code {
            case ENOTCONN, ECONNABORTED:
                clearStale(path)
                guard stat(path, &info) == 0 else { throw .staleMountNotCleared(path) }
                clearedStale = true
            case ENOENT: throw .missing(path)
            case ENOTDIR: throw .notDirectory(path)
            default: throw .inaccessible(path, errno: code)
            }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .notDirectory(path) }
        if let mount = MountTable.mount(at: path) {
            // A dead FUSE mount may still answer `stat` from the kernel's attribute cache;
            // statfs always asks the daemon, and fails with ENOTCONN when it is gone.
            var numbers = statvfs()
            guard mount.type.hasPrefix("fuse"), statvfs(path, &numbers) != 0,
                  errno == ENOTCONN || errno == ECONNABORTED else { throw .alreadyMounted(path) }
            clearStale(path)
            guard !isMounted(path), stat(path, &info) == 0 else { throw .staleMountNotCleared(path) }
            clearedStale = true
        }
        guard let directory = opendir(path) else { throw .inaccessible(path, errno: errno) }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { throw .notEmpty(path) }
        }
        return clearedStale
    }

    /// Lazily unmounts a dead mount at `path`: fusermount3 -uz (works unprivileged), then
    /// umount2(MNT_DETACH) as a fallback for root.
    public static func clearStale(_ path: String) {
        if ProcessTools.run(["fusermount3", "-uz", path]) == 0 { return }
        _ = umount2(path, Int32(MNT_DETACH))
    }
}
