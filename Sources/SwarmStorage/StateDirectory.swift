import Glibc

/// The hidden DIR/.swarmfs/ folder holding swarmfs's own state beside the torrent's files
/// (resume record, lock, a copy of the .torrent, the last-used stamp).
///
/// Every file here is opened through `ConfinedPath` (no symlink followed, regular files only):
/// a cache folder is not trusted, and a symlinked lock or record must never get its target
/// truncated or written, nor a FIFO block a reader.
public enum StateDirectory {
    /// The state folder's name inside a cache directory.
    public static let name = ".swarmfs"

    /// DIR/.swarmfs for a cache directory.
    public static func path(_ directory: String) -> String {
        directory + "/" + name
    }

    /// Opens the state file `file` of `directory` with `flags` (O_CREAT makes DIR/.swarmfs too).
    static func openFile(_ directory: String, _ file: String, flags: Int32) throws(StorageError) -> Int32 {
        try ConfinedPath.openFile(root: directory, components: [name, file], flags: flags)
    }

    /// Up to `limit` bytes of the state file `file`; nil when it is missing, not a regular file,
    /// or unreadable (state is only ever a hint: without it we re-check or re-create).
    static func read(_ directory: String, _ file: String, limit: Int) -> [UInt8]? {
        guard let fd = try? openFile(directory, file, flags: O_RDONLY) else { return nil }
        defer { close(fd) }
        // Sized by fstat (regular files only reach here), plus one byte to notice growth.
        guard case let .success(info) = PosixIO.status(fd) else { return nil }
        let capacity = Int(min(Int64(limit), max(0, Int64(info.st_size)) + 1))
        var bytes = [UInt8](repeating: 0, count: capacity)
        let (got, code) = bytes.withUnsafeMutableBytes { PosixIO.readFully(fd, $0, at: 0) }
        if code != 0 { return nil }
        bytes.removeLast(capacity - got)
        return bytes
    }

    /// Replaces the state file `file` atomically (write a temporary, optionally fsync, rename,
    /// optionally fsync the folder): a crash leaves the old content or the new one.
    /// A regular file that already holds exactly `bytes` is left alone: renaming over it would
    /// cost ext4 a flush (and an fsync when `durable`) for nothing — once per torrent at every
    /// start and stop of a library. Whatever was written here was written durably if it had to be.
    static func writeAtomically(_ directory: String, _ file: String, bytes: [UInt8],
                                durable: Bool) throws(StorageError) {
        if read(directory, file, limit: bytes.count + 1) == bytes { return }
        let folder = try ConfinedPath.openDirectory(root: directory, components: [name], create: true)
        defer { close(folder) }
        let folderPath = path(directory)
        let temporary = file + ".tmp"
        // A leftover temporary (ours from a crash, or something planted) is removed, never
        // opened: unlinkat does not follow a symlink.
        _ = unlinkat(folder, temporary, 0)
        let fd = try ConfinedPath.openFile(in: folder, name: temporary, path: folderPath + "/" + temporary,
                                           flags: O_WRONLY | O_CREAT | O_EXCL)
        let writeCode = bytes.withUnsafeBytes { PosixIO.writeFully(fd, $0, at: 0) }
        let syncCode = writeCode == 0 && durable ? (fsync(fd) == 0 ? 0 : errno) : writeCode
        close(fd)
        if syncCode != 0 {
            _ = unlinkat(folder, temporary, 0)
            throw .fromWrite(writeCode != 0 ? "write" : "fsync", path: folderPath + "/" + temporary,
                             piece: nil, errno: syncCode)
        }
        if renameat(folder, temporary, folder, file) != 0 {
            let failure = errno
            _ = unlinkat(folder, temporary, 0)
            throw .fromWrite("rename", path: folderPath + "/" + file, piece: nil, errno: failure)
        }
        if durable && fsync(folder) != 0 {
            throw .fromWrite("fsync", path: folderPath, piece: nil, errno: errno)
        }
    }

    /// Removes the state file `file` (and its temporary) without following symlinks; true when
    /// none remains afterwards. With `durable`, the removal is synced.
    static func remove(_ directory: String, _ file: String, durable: Bool) -> Bool {
        guard let folder = try? ConfinedPath.openDirectory(root: directory, components: [name], create: false) else {
            // No state folder (or none we may enter): no state file either.
            return true
        }
        defer { close(folder) }
        _ = unlinkat(folder, file + ".tmp", 0)
        if unlinkat(folder, file, 0) != 0 && errno != ENOENT { return false }
        return !durable || fsync(folder) == 0
    }

    /// `lstat` of the state file `file` reached without following symlinks (nil if absent).
    static func status(_ directory: String, _ file: String) -> stat? {
        ConfinedPath.status(root: directory, components: [name, file])
    }
}
