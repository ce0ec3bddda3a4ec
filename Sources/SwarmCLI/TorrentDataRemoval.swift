#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwarmMetainfo
import SwarmStorage

/// `--no-keep`: removes, at unmount, the torrent's files and swarmfs's state folder from the cache
/// folder — and nothing else, whatever the torrent's names say and whatever a user keeps there
/// (`--cache-dir` may be a shared download folder).
///
/// Invariants:
/// - Every removal goes through a descriptor of the cache folder opened when the mount started
///   (`pin`), and only if the folder's path still leads to that same device and inode.
/// - Paths are walked one component at a time with `O_NOFOLLOW`: a symbolic link, a `.`/`..`/
///   empty component or another filesystem (a different `st_dev`) ends the walk; nothing is
///   removed outside the cache folder.
/// - Only regular files at the torrent's own paths are unlinked; folders only with `rmdir`, so a
///   folder that still holds something of the user's stays.
final class TorrentDataRemoval {
    /// What went wrong with one path; the removal goes on with the others.
    struct Failure: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "\(path): \(reason)" }
    }

    private let directory: String
    private let descriptor: Int32
    private let device: UInt64
    private let inode: UInt64

    /// Opens and remembers the cache folder `directory`; nil when it cannot be opened (then
    /// nothing will be removed).
    static func pin(directory: String) -> TorrentDataRemoval? {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            return nil
        }
        return TorrentDataRemoval(directory: directory, descriptor: fd, device: UInt64(info.st_dev),
                                  inode: UInt64(info.st_ino))
    }

    private init(directory: String, descriptor: Int32, device: UInt64, inode: UInt64) {
        self.directory = directory
        self.descriptor = descriptor
        self.device = device
        self.inode = inode
    }

    deinit { close(descriptor) }

    /// Removes `metainfo`'s files and the state folder; returns what could not be removed
    /// (missing files are not failures). Empty folders of the torrent are removed too.
    func remove(_ metainfo: Metainfo) -> [Failure] {
        var current = stat()
        guard stat(directory, &current) == 0, UInt64(current.st_dev) == device,
              UInt64(current.st_ino) == inode else {
            return [Failure(path: directory, reason: "is no longer the folder the mount used; nothing removed")]
        }
        var failures: [Failure] = []
        var folders: Set<[String]> = []
        for file in metainfo.userFiles {
            for depth in 1..<max(1, file.path.count) { folders.insert(Array(file.path.prefix(depth))) }
            if let failure = removeEntry(file.path, folder: false) { failures.append(failure) }
        }
        // Deepest first, so that a parent is empty by the time its turn comes.
        for folder in folders.sorted(by: { $0.count > $1.count }) {
            if let failure = removeEntry(folder, folder: true) { failures.append(failure) }
        }
        failures += removeStateFolder()
        return failures
    }

    /// Unlinks the regular file (or removes the empty folder) at `path` below the cache folder.
    private func removeEntry(_ path: [String], folder: Bool) -> Failure? {
        let shown = directory + "/" + path.joined(separator: "/")
        guard let last = path.last, path.allSatisfy(Self.isPlainName) else {
            return Failure(path: shown, reason: "not a plain name below the cache folder; left alone")
        }
        let parent: Int32
        switch openFolder(path.dropLast()) {
        case let .success(fd): parent = fd
        case let .failure(failure): return failure.reason == "missing" ? nil : Failure(path: shown, reason: failure.reason)
        }
        defer { if parent != descriptor { close(parent) } }
        var info = stat()
        guard fstatat(parent, last, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        guard UInt64(info.st_dev) == device else { return Failure(path: shown, reason: "on another filesystem; left alone") }
        let kind = info.st_mode & S_IFMT
        if folder {
            guard kind == S_IFDIR else { return nil }
            // Not empty: the user keeps something there.
            if unlinkat(parent, last, AT_REMOVEDIR) != 0, errno != ENOTEMPTY, errno != EEXIST, errno != ENOENT {
                return Failure(path: shown, reason: String(cString: strerror(errno)))
            }
            return nil
        }
        guard kind == S_IFREG else { return Failure(path: shown, reason: "not a regular file; left alone") }
        if unlinkat(parent, last, 0) != 0, errno != ENOENT {
            return Failure(path: shown, reason: String(cString: strerror(errno)))
        }
        return nil
    }

    /// The regular files of `DIR/.swarmfs/`, then the folder itself if that empties it.
    private func removeStateFolder() -> [Failure] {
        let name = StateDirectory.name
        let shown = directory + "/" + name
        let fd = openat(descriptor, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return errno == ENOENT ? [] : [Failure(path: shown, reason: "cannot open")] }
        var info = stat()
        guard fstat(fd, &info) == 0, UInt64(info.st_dev) == device, let stream = fdopendir(fd) else {
            close(fd)
            return [Failure(path: shown, reason: "on another filesystem or unreadable; left alone")]
        }
        var names: [String] = []
        while let entry = readdir(stream) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if Self.isPlainName(entryName) { names.append(entryName) }
        }
        var failures: [Failure] = []
        let folderFd = dirfd(stream)
        for entryName in names {
            var entryInfo = stat()
            guard fstatat(folderFd, entryName, &entryInfo, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            guard entryInfo.st_mode & S_IFMT == S_IFREG || entryInfo.st_mode & S_IFMT == S_IFLNK else {
                failures.append(Failure(path: shown + "/" + entryName, reason: "not a regular file; left alone"))
                continue
            }
            if unlinkat(folderFd, entryName, 0) != 0, errno != ENOENT {
                failures.append(Failure(path: shown + "/" + entryName, reason: String(cString: strerror(errno))))
            }
        }
        closedir(stream)
        _ = unlinkat(descriptor, name, AT_REMOVEDIR)
        return failures
    }

    /// A descriptor of the folder at `components` below the cache folder (the pinned descriptor
    /// itself for none); `.failure` with reason "missing" when a component does not exist.
    private func openFolder(_ components: ArraySlice<String>) -> Result<Int32, Failure> {
        var current = descriptor
        for component in components {
            let next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let failure = errno
            if current != descriptor { close(current) }
            guard next >= 0 else {
                let reason = failure == ENOENT ? "missing" : "\(component): not a plain folder; left alone"
                return .failure(Failure(path: directory, reason: reason))
            }
            var info = stat()
            guard fstat(next, &info) == 0, UInt64(info.st_dev) == device else {
                close(next)
                return .failure(Failure(path: directory, reason: "\(component): on another filesystem; left alone"))
            }
            current = next
        }
        return .success(current)
    }

    /// Not empty, `.` or `..`, and without `/` or NUL: stays in the folder it is looked up in.
    private static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.elementsEqual(".".utf8) == false && name.utf8.elementsEqual("..".utf8) == false
            && !name.utf8.contains(UInt8(ascii: "/")) && !name.utf8.contains(0)
    }
}
