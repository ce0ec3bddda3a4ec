#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a small file whole, with a size limit, reporting directories and missing files clearly.
enum TorrentFileReader {
    static func load(path: String, limit: Int) throws(MetainfoError) -> [UInt8] {
        // O_NONBLOCK so that a FIFO given by mistake cannot hang the open; only regular files
        // are read below.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw .cannotRead(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw .cannotRead(path: path, reason: String(cString: strerror(errno)))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw .isDirectory(path: path) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .cannotRead(path: path, reason: "not a regular file")
        }
        if Int64(info.st_size) > Int64(limit) { throw .tooLarge(size: Int64(info.st_size), limit: limit) }
        // Read up to limit + 1 bytes regardless of st_size (pipes and /proc files report 0).
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                let reason = errno == EISDIR ? "it is a directory" : String(cString: strerror(errno))
                throw .cannotRead(path: path, reason: reason)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
            if result.count > limit { throw .tooLarge(size: Int64(result.count), limit: limit) }
        }
        return result
    }
}
