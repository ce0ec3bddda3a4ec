import Glibc
import SwarmMetainfo

/// The cache root (default `$XDG_CACHE_HOME/swarmfs`, else `~/.cache/swarmfs`) holding one
/// directory per torrent named by its info-hash, and the operations of `swarmfs cache`.
public enum CacheRoot {
    /// Name of the copy of the .torrent inside DIR/.swarmfs/ (lets `cache list` name entries).
    static let torrentFileName = "torrent"
    /// Name of the stamp whose mtime is the entry's last use.
    static let lastUsedFileName = "last-used"

    /// The default root from an environment (pass `ProcessInfo.processInfo.environment` or a test's).
    public static func defaultPath(environment: [String: String]) -> String {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            return xdg + "/swarmfs"
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? homeFromPasswd() ?? "/tmp"
        return home + "/.cache/swarmfs"
    }

    /// The default root from this process's environment.
    public static func defaultPath() -> String {
        var environment: [String: String] = [:]
        for key in ["XDG_CACHE_HOME", "HOME"] {
            if let value = getenv(key) { environment[key] = String(cString: value) }
        }
        return defaultPath(environment: environment)
    }

    /// The per-torrent directory: root/<info-hash hex>.
    public static func directory(root: String, infoHash: InfoHash) -> String {
        root + "/" + infoHash.hex.lowercased()
    }

    /// Stores a copy of the .torrent bytes as DIR/.swarmfs/torrent (atomically) so the entry can
    /// be named and re-verified later without the original file.
    public static func storeTorrent(_ bytes: [UInt8], directory: String) throws(StorageError) {
        try StateDirectory.writeAtomically(directory, torrentFileName, bytes: bytes, durable: false)
    }

    /// Stamps the entry as used now (mount, download, read). Failures are ignored: the stamp only
    /// orders pruning.
    public static func markUsed(directory: String) {
        if let fd = try? StateDirectory.openFile(directory, lastUsedFileName, flags: O_WRONLY | O_CREAT) {
            _ = futimens(fd, nil)
            Glibc.close(fd)
        }
    }

    /// The torrents under `root`: every sub-directory named like an info-hash (40 or 64 hex
    /// digits). Sorted by last use, most recent first.
    public static func entries(root: String) -> [CacheEntry] {
        guard let dir = opendir(root) else { return [] }
        var names: [String] = []
        while let item = readdir(dir) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if isInfoHashName(name) { names.append(name) }
        }
        closedir(dir)
        return names.compactMap { entry(directory: root + "/" + $0) }
            .sorted { $0.lastUsed != $1.lastUsed ? $0.lastUsed > $1.lastUsed : $0.infoHash < $1.infoHash }
    }

    /// Describes one cache directory (nil if it is not a directory).
    public static func entry(directory: String) -> CacheEntry? {
        guard case let .success(info) = PosixIO.status(path: directory),
              (info.st_mode & S_IFMT) == S_IFDIR else { return nil }
        let hex = String(directory.split(separator: "/").last ?? "").lowercased()
        let metainfo = storedMetainfo(directory: directory)
        let record = metainfo.flatMap { ResumeRecord.load(directory: directory, metainfo: $0) }
        var verified: Int?
        if let record {
            verified = record.verified.setCount
        }
        return CacheEntry(directory: directory, infoHash: hex, name: metainfo?.name,
                          allocatedBytes: DiskUsage.allocatedBytes(path: directory),
                          pieceCount: metainfo?.layout.pieceCount, verifiedPieces: verified,
                          lastUsed: lastUsed(directory: directory, fallback: info), inUse: CacheLock.isHeld(directory: directory))
    }

    /// The stored copy of the .torrent, parsed (nil if missing or invalid).
    public static func storedMetainfo(directory: String) -> Metainfo? {
        guard let bytes = StateDirectory.read(directory, torrentFileName, limit: Metainfo.maxTorrentFileSize + 1),
              bytes.count <= Metainfo.maxTorrentFileSize else { return nil }
        return try? Metainfo(bytes: bytes)
    }

    /// Finds the entry named by an info-hash (full, or a unique prefix of at least 8 digits) or by
    /// the torrent's exact name.
    public static func find(_ key: String, root: String) throws(StorageError) -> CacheEntry {
        let all = entries(root: root)
        let lower = key.lowercased()
        if let exact = all.first(where: { $0.infoHash == lower }) { return exact }
        var matches = all.filter { $0.name == key }
        if matches.isEmpty, lower.count >= 8, lower.allSatisfy(\.isHexDigit) {
            matches = all.filter { $0.infoHash.hasPrefix(lower) }
        }
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty { throw .noSuchCacheEntry(key) }
        throw .ambiguousCacheEntry(key, matches: matches.map(\.infoHash))
    }

    /// Deletes an entry's directory; refuses (`.locked`) while a swarmfs process uses it. The lock
    /// is held during deletion so no process can start using it half-deleted.
    public static func remove(_ entry: CacheEntry) throws(StorageError) {
        let lock = try CacheLock.acquire(directory: entry.directory)
        defer { lock.release() }
        let code = removeTree(entry.directory)
        if code != 0 { throw .io(operation: "remove", path: entry.directory, piece: nil, errno: code) }
    }

    /// Deletes a cache directory that this process holds the lock of (`--no-keep` at unmount):
    /// the tree goes while the lock is held, then the lock is released. Close the store first.
    public static func removeLocked(directory: String, lock: CacheLock) throws(StorageError) {
        defer { lock.release() }
        let code = removeTree(directory)
        if code != 0 { throw .io(operation: "remove", path: directory, piece: nil, errno: code) }
    }

    /// What `prune` did.
    public struct PruneResult: Sendable {
        /// Entries deleted, least recently used first.
        public var removed: [CacheEntry]
        /// Entries that would have been deleted but are in use.
        public var skippedInUse: [CacheEntry]
        /// Disk use of the root's entries after pruning.
        public var remainingBytes: Int64
    }

    /// Deletes least recently used entries until the entries' total disk use is at most
    /// `maxBytes`. Entries in use are skipped (and reported).
    public static func prune(root: String, maxBytes: Int64) throws(StorageError) -> PruneResult {
        let all = entries(root: root)
        var total = all.reduce(Int64(0)) { $0 + $1.allocatedBytes }
        var result = PruneResult(removed: [], skippedInUse: [], remainingBytes: total)
        for entry in all.reversed() where total > maxBytes {
            do {
                try remove(entry)
                total -= entry.allocatedBytes
                result.removed.append(entry)
            } catch .locked {
                result.skippedInUse.append(entry)
            }
        }
        result.remainingBytes = total
        return result
    }

    // MARK: - Private

    static func isInfoHashName(_ name: String) -> Bool {
        (name.utf8.count == 40 || name.utf8.count == 64) && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
        }
    }

    private static func lastUsed(directory: String, fallback: stat) -> Int64 {
        for name in [lastUsedFileName, ResumeRecord.fileName] {
            if let info = StateDirectory.status(directory, name), (info.st_mode & S_IFMT) == S_IFREG {
                return Int64(info.st_mtim.tv_sec)
            }
        }
        return Int64(fallback.st_mtim.tv_sec)
    }

    private static func homeFromPasswd() -> String? {
        guard let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir else { return nil }
        return String(cString: dir)
    }

    /// `rm -r` without following symlinks; 0 or the first errno.
    private static func removeTree(_ path: String, depth: Int = 0) -> Int32 {
        var info = stat()
        if lstat(path, &info) != 0 { return errno == ENOENT ? 0 : errno }
        if (info.st_mode & S_IFMT) == S_IFDIR && depth < 64 {
            guard let dir = opendir(path) else { return errno }
            var children: [String] = []
            while let item = readdir(dir) {
                let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name != "." && name != ".." { children.append(name) }
            }
            closedir(dir)
            for child in children {
                let code = removeTree(path + "/" + child, depth: depth + 1)
                if code != 0 { return code }
            }
            return rmdir(path) == 0 ? 0 : errno
        }
        return unlink(path) == 0 ? 0 : errno
    }
}
