import Glibc

/// Opens files and directories below a directory we do not trust: a cache folder (anyone who can
/// write to it may have left a symlink where a payload file or our state belongs, or a FIFO that
/// would block an `open` forever).
///
/// Invariants of every open made here:
/// - The root is opened as given (the user named it, symlink or not); every component below it is
///   opened with `openat(parent, name, O_NOFOLLOW)`, so nothing opened, created or truncated lies
///   outside the root.
/// - Directories are opened with `O_DIRECTORY`, missing ones (when creating) made with `mkdirat`.
/// - Files are opened with `O_NONBLOCK` (an open never waits for a FIFO's other end), then `fstat`
///   must say regular file, then `O_NONBLOCK` is cleared again.
/// - A refusal is `.unsafeEntry` naming the path and what was found there; a component that does
///   not exist is `.missingFile`.
enum ConfinedPath {
    /// Opens the directory `root/components...` (O_RDONLY|O_DIRECTORY); with `create`, makes the
    /// root and any missing component. Returns the fd.
    static func openDirectory(root: String, components: ArraySlice<String>,
                              create: Bool) throws(StorageError) -> Int32 {
        var current = try openRoot(root, create: create)
        var path = root
        for name in components {
            path += "/" + name
            let next: Int32
            do throws(StorageError) {
                next = try openChildDirectory(current, name: name, path: path, create: create)
            } catch {
                Glibc.close(current)
                throw error
            }
            Glibc.close(current)
            current = next
        }
        return current
    }

    /// Opens the regular file `root/components...` with `flags` (O_RDONLY, O_RDWR, O_WRONLY, plus
    /// O_CREAT/O_TRUNC/O_EXCL); with O_CREAT, missing directories are made too. Returns the fd,
    /// blocking again (O_NONBLOCK cleared).
    static func openFile(root: String, components: [String], flags: Int32,
                         mode: mode_t = 0o644) throws(StorageError) -> Int32 {
        guard let name = components.last else { throw .unsafePath(components: components) }
        let create = flags & O_CREAT != 0
        let directory = try openDirectory(root: root, components: components.dropLast(), create: create)
        defer { Glibc.close(directory) }
        let path = root + "/" + components.joined(separator: "/")
        return try openFile(in: directory, name: name, path: path, flags: flags, mode: mode)
    }

    /// Opens the regular file `name` inside the open directory `directory`; `path` names it in
    /// errors.
    static func openFile(in directory: Int32, name: String, path: String, flags: Int32,
                         mode: mode_t = 0o644) throws(StorageError) -> Int32 {
        var fd: Int32
        repeat {
            fd = openat(directory, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode)
        } while fd < 0 && errno == EINTR
        if fd < 0 {
            let code = errno
            // ELOOP: a symlink (O_NOFOLLOW); ENXIO: a FIFO without reader opened for writing;
            // EISDIR/ENOTDIR/EWOULDBLOCK: something else that is not a regular file.
            if code == ELOOP || code == ENXIO || code == EISDIR || code == ENOTDIR || code == EWOULDBLOCK,
               let kind = kindOfEntry(in: directory, name: name), kind != .regularFile {
                throw .unsafeEntry(path: path, kind: kind)
            }
            if code == ENOENT { throw .missingFile(path: path, piece: nil) }
            throw .fromWrite("open", path: path, piece: nil, errno: code)
        }
        var info = stat()
        if fstat(fd, &info) != 0 {
            let code = errno
            Glibc.close(fd)
            throw .io(operation: "fstat", path: path, piece: nil, errno: code)
        }
        let kind = EntryKind(mode: info.st_mode)
        if kind != .regularFile {
            Glibc.close(fd)
            throw .unsafeEntry(path: path, kind: kind)
        }
        let status = fcntl(fd, F_GETFL)
        if status < 0 || fcntl(fd, F_SETFL, status & ~O_NONBLOCK) != 0 {
            let code = errno
            Glibc.close(fd)
            throw .io(operation: "fcntl", path: path, piece: nil, errno: code)
        }
        return fd
    }

    /// `stat` of `root/components...` without following any symlink below the root (nil if it
    /// cannot be reached that way).
    static func status(root: String, components: [String]) -> stat? {
        guard let name = components.last,
              let directory = try? openDirectory(root: root, components: components.dropLast(), create: false)
        else { return nil }
        defer { Glibc.close(directory) }
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return info
    }

    // MARK: - Private

    private static func openRoot(_ root: String, create: Bool) throws(StorageError) -> Int32 {
        var fd = PosixIO.open(root, O_RDONLY | O_DIRECTORY)
        if fd == -ENOENT && create {
            let code = PosixIO.makeDirectories(root)
            if code != 0 { throw .fromWrite("mkdir", path: root, piece: nil, errno: code) }
            fd = PosixIO.open(root, O_RDONLY | O_DIRECTORY)
        }
        if fd == -ENOENT { throw .missingFile(path: root, piece: nil) }
        if fd < 0 { throw .io(operation: "open", path: root, piece: nil, errno: -fd) }
        return fd
    }

    private static func openChildDirectory(_ parent: Int32, name: String, path: String,
                                           create: Bool) throws(StorageError) -> Int32 {
        var madeIt = false
        while true {
            let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 { return fd }
            let code = errno
            if code == EINTR { continue }
            if code == ENOENT && create && !madeIt {
                if mkdirat(parent, name, 0o755) != 0 && errno != EEXIST {
                    throw .fromWrite("mkdir", path: path, piece: nil, errno: errno)
                }
                madeIt = true
                continue
            }
            if code == ENOENT { throw .missingFile(path: path, piece: nil) }
            if code == ELOOP || code == ENOTDIR, let kind = kindOfEntry(in: parent, name: name), kind != .directory {
                // A plain file where a folder belongs only means the files below are missing.
                if kind == .regularFile { throw .missingFile(path: path, piece: nil) }
                throw .unsafeEntry(path: path, kind: kind)
            }
            throw .io(operation: "open", path: path, piece: nil, errno: code)
        }
    }

    private static func kindOfEntry(in directory: Int32, name: String) -> EntryKind? {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return EntryKind(mode: info.st_mode)
    }
}

/// What a directory entry is, for refusals that say what was found instead of a regular file.
public enum EntryKind: String, Sendable, Equatable {
    case regularFile = "regular file"
    case directory
    case symbolicLink = "symbolic link"
    case fifo = "FIFO"
    case socket
    case characterDevice = "character device"
    case blockDevice = "block device"
    case unknown = "special file"

    init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regularFile
        case S_IFDIR: self = .directory
        case S_IFLNK: self = .symbolicLink
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        default: self = .unknown
        }
    }
}
