#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One regular file found under the source path of `swarmfs create`.
struct SourceFile: Sendable, Hashable {
    /// Path to open, as raw bytes (names on disk need not be UTF-8).
    let rawPath: [UInt8]
    /// The path for messages (lossy when not UTF-8).
    var displayPath: String { String(decoding: rawPath, as: UTF8.self) }
    /// Raw name components relative to the torrent root (empty for a single-file torrent).
    let components: [[UInt8]]
    /// Size when scanned.
    let length: Int64
}

/// Walks the source of `swarmfs create` in a deterministic order (byte-wise sorted names at every
/// level). Follows symlinks to files, not to directories (so loops are impossible); skips
/// sockets, FIFOs and devices, which could block or never end.
enum SourceScanner {
    struct Result {
        let name: [UInt8]
        let isDirectory: Bool
        let files: [SourceFile]
    }

    static func scan(_ path: String) throws(TorrentBuildError) -> Result {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .cannotAccess(path: path, reason: String(cString: strerror(errno)))
        }
        let name = Array(baseName(path).utf8)
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            return Result(name: name, isDirectory: false,
                          files: [SourceFile(rawPath: Array(path.utf8), components: [], length: Int64(info.st_size))])
        case S_IFDIR:
            var files: [SourceFile] = []
            try walk(directory: Array(path.utf8), components: [], into: &files)
            return Result(name: name, isDirectory: true, files: files)
        default:
            throw .unsupportedFileType(path: path)
        }
    }

    /// The last path component, ignoring trailing slashes (`/data/movies/` -> `movies`).
    static func baseName(_ path: String) -> String {
        let parts = path.split(separator: "/")
        guard let last = parts.last else { return "_" }
        if last == "." || last == ".." {
            // `swarmfs create .`: use the real directory name.
            if let resolved = realpath(path, nil) {
                defer { free(resolved) }
                let name = String(cString: resolved).split(separator: "/").last.map(String.init)
                return name ?? "_"
            }
        }
        return String(last)
    }

    private static func walk(directory: [UInt8], components: [[UInt8]],
                             into files: inout [SourceFile]) throws(TorrentBuildError) {
        let display = String(decoding: directory, as: UTF8.self)
        guard let handle = withCPath(directory, { opendir($0) }) else {
            throw .cannotAccess(path: display, reason: String(cString: strerror(errno)))
        }
        var names: [[UInt8]] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            names.append(name)
        }
        closedir(handle)
        names.sort { $0.lexicographicallyPrecedes($1) }

        for name in names {
            let childPath = directory + [UInt8(ascii: "/")] + name
            var linkInfo = stat()
            guard withCPath(childPath, { lstat($0, &linkInfo) }) == 0 else {
                throw .cannotAccess(path: String(decoding: childPath, as: UTF8.self),
                                    reason: String(cString: strerror(errno)))
            }
            let isLink = (linkInfo.st_mode & S_IFMT) == S_IFLNK
            var info = linkInfo
            if isLink, withCPath(childPath, { stat($0, &info) }) != 0 { continue }  // dangling link
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                files.append(SourceFile(rawPath: childPath, components: components + [name],
                                        length: Int64(info.st_size)))
            case S_IFDIR where !isLink:
                try walk(directory: childPath, components: components + [name], into: &files)
            default:
                continue
            }
        }
    }
}

/// Calls `body` with `path` as a NUL-terminated C string.
func withCPath<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
    var terminated = path
    terminated.append(0)
    return terminated.withUnsafeBytes { raw in
        // Never nil: the buffer holds at least the terminator. The fallback only satisfies the type.
        guard let base = raw.bindMemory(to: CChar.self).baseAddress else { return body("") }
        return body(base)
    }
}
