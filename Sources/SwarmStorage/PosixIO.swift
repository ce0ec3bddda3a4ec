import Glibc

/// Thin wrappers over the system calls the cache needs, with the loops that POSIX requires
/// (short reads/writes, EINTR) done once here so callers never half-handle them.
enum PosixIO {
    /// Linux values from <linux/falloc.h>; Glibc's Swift module does not export them.
    static let fallocKeepSize: Int32 = 0x01
    static let fallocPunchHole: Int32 = 0x02
    /// Linux values from <unistd.h> (_GNU_SOURCE), also not exported to Swift.
    static let seekData: Int32 = 3

    private typealias FallocateFunction = @convention(c) (Int32, Int32, off_t, off_t) -> Int32

    /// `fallocate(2)` is declared only under _GNU_SOURCE, which Swift's Glibc module does not set,
    /// so it is looked up once at run time. nil when libc lacks it (then eviction reports ENOSYS).
    private static let fallocateFunction: FallocateFunction? = {
        guard let symbol = dlsym(nil, "fallocate") else { return nil }
        return unsafeBitCast(symbol, to: FallocateFunction.self)
    }()

    /// Writes all of `buffer` at `offset`, at most `chunkSize` bytes per `pwrite`; returns 0 or
    /// the errno that stopped it.
    static func writeFully(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, at offset: Int64,
                           chunkSize: Int = .max) -> Int32 {
        var done = 0
        while done < buffer.count {
            let base = buffer.baseAddress! + done
            let written = pwrite(fd, base, min(buffer.count - done, chunkSize), off_t(offset) + off_t(done))
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if written == 0 { return EIO }  // a zero-byte write never ends; call it an I/O error
            done += written
        }
        return 0
    }

    /// Reads `buffer.count` bytes at `offset`. Returns (bytes read, errno): fewer bytes with errno 0
    /// means end of file came first.
    static func readFully(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int64) -> (Int, Int32) {
        var done = 0
        while done < buffer.count {
            let base = buffer.baseAddress! + done
            let got = pread(fd, base, buffer.count - done, off_t(offset) + off_t(done))
            if got < 0 {
                if errno == EINTR { continue }
                return (done, errno)
            }
            if got == 0 { return (done, 0) }
            done += got
        }
        return (done, 0)
    }

    /// Frees the blocks of [offset, offset+length) keeping the file size; 0 or errno.
    static func punchHole(_ fd: Int32, offset: Int64, length: Int64) -> Int32 {
        guard let fallocate = fallocateFunction else { return ENOSYS }
        while true {
            if fallocate(fd, fallocPunchHole | fallocKeepSize, off_t(offset), off_t(length)) == 0 { return 0 }
            if errno != EINTR { return errno }
        }
    }

    /// Whether [offset, offset+length) of the file holds any allocated data. Filesystems without
    /// SEEK_DATA report the whole file as data, which only costs a re-hash.
    static func hasData(_ fd: Int32, offset: Int64, length: Int64) -> Bool {
        let next = lseek(fd, off_t(offset), seekData)
        if next < 0 { return errno != ENXIO }  // ENXIO: no data at or after offset
        return Int64(next) < offset + length
    }

    /// `fstat`, or the errno.
    static func status(_ fd: Int32) -> Result<stat, Errno> {
        var info = stat()
        if fstat(fd, &info) != 0 { return .failure(Errno(errno)) }
        return .success(info)
    }

    /// `stat` of a path, or the errno.
    static func status(path: String) -> Result<stat, Errno> {
        var info = stat()
        if stat(path, &info) != 0 { return .failure(Errno(errno)) }
        return .success(info)
    }

    /// `open` retried on EINTR; returns the fd or -errno.
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { return -errno }
        }
    }

    /// `mkdir -p`; 0 or errno.
    static func makeDirectories(_ path: String) -> Int32 {
        if path.isEmpty { return 0 }
        var info = stat()
        if stat(path, &info) == 0 {
            return (info.st_mode & S_IFMT) == S_IFDIR ? 0 : ENOTDIR
        }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let parent = makeDirectories(String(path[..<slash]))
            if parent != 0 { return parent }
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { return errno }
        return 0
    }

    /// fsync of a directory so a rename inside it is durable; 0 or errno.
    static func syncDirectory(_ path: String) -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        if fd < 0 { return -fd }
        defer { close(fd) }
        return fsync(fd) == 0 ? 0 : errno
    }
}

/// An errno as an Error, for `Result`.
struct Errno: Error, Sendable {
    let code: Int32
    init(_ code: Int32) { self.code = code }
}

extension stat {
    /// Modification time in nanoseconds since the epoch.
    var modificationNanoseconds: Int64 {
        Int64(st_mtim.tv_sec) * 1_000_000_000 + Int64(st_mtim.tv_nsec)
    }
}
