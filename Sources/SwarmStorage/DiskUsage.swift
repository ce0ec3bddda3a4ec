import Glibc

/// Real disk use of a folder tree: allocated blocks, not apparent sizes (sparse caches are the
/// point). Symlinks are counted as themselves, never followed.
enum DiskUsage {
    /// Sum of st_blocks × 512 over `path` and everything under it (0 if it does not exist).
    /// Depth is bounded so a hostile tree cannot exhaust the stack.
    static func allocatedBytes(path: String, depth: Int = 0) -> Int64 {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        var total = Int64(info.st_blocks) * 512
        guard (info.st_mode & S_IFMT) == S_IFDIR, depth < 64, let dir = opendir(path) else { return total }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            total += allocatedBytes(path: path + "/" + name, depth: depth + 1)
        }
        return total
    }
}
