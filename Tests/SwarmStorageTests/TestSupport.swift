import Foundation
import Glibc
import SwarmMetainfo
@testable import SwarmStorage

/// A temporary directory removed (recursively) when the value is released.
final class TemporaryDirectory {
    let path: String

    init() {
        path = "/tmp/swarmstorage-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), so failures reproduce.
func payloadBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var index = 0
        while index < count {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            var word = state &* 2_685_821_657_736_338_717
            let take = min(8, count - index)
            withUnsafeBytes(of: &word) { source in
                raw.baseAddress!.advanced(by: index).copyMemory(from: source.baseAddress!, byteCount: take)
            }
            index += take
        }
    }
    return bytes
}

/// A file of a test torrent.
struct TestFile {
    var path: [String]  // relative to the torrent's name folder (multi-file)
    var length: Int
    var isPadding = false
}

/// A test torrent: the .torrent bytes, the parsed Metainfo and the payload (padding as zeros).
struct TestTorrent {
    let torrentBytes: [UInt8]
    let metainfo: Metainfo
    let payload: [UInt8]
    let torrentPath: String

    /// Builds a multi-file (or single-file when `singleFile`) torrent over random content and
    /// writes the .torrent into `directory`.
    init(name: String, files: [TestFile], pieceLength: Int, singleFile: Bool = false, seed: UInt64 = 7,
         directory: String) throws {
        var payload: [UInt8] = []
        for (index, file) in files.enumerated() {
            if file.isPadding {
                payload += [UInt8](repeating: 0, count: file.length)
            } else {
                payload += payloadBytes(count: file.length, seed: seed &+ UInt64(index) &* 7919)
            }
        }
        var pieces: [UInt8] = []
        var offset = 0
        while offset < payload.count {
            let end = min(offset + pieceLength, payload.count)
            pieces += payload[offset..<end].withUnsafeBytes { PieceHasher.sha1($0) }
            offset = end
        }
        var info: [(String, Bencoded)] = [
            ("name", .bytes(Array(name.utf8))),
            ("piece length", .int(pieceLength)),
            ("pieces", .bytes(pieces)),
        ]
        if singleFile {
            info.append(("length", .int(payload.count)))
        } else {
            info.append(("files", .list(files.map { file in
                var entry: [(String, Bencoded)] = [
                    ("length", .int(file.length)),
                    ("path", .list(file.path.map { .bytes(Array($0.utf8)) })),
                ]
                if file.isPadding { entry.append(("attr", .bytes(Array("p".utf8)))) }
                return .dict(entry)
            })))
        }
        let torrent = Bencoded.dict([("announce", .bytes(Array("http://127.0.0.1:1/announce".utf8))),
                                     ("info", .dict(info))])
        torrentBytes = torrent.encoded()
        torrentPath = directory + "/\(name).torrent"
        _ = FileManager.default.createFile(atPath: torrentPath, contents: Data(torrentBytes))
        metainfo = try Metainfo(contentsOf: torrentPath)
        self.payload = payload
    }

    var layout: FileLayout { metainfo.layout }

    /// Writes the payload into `directory` the way any client lays it out (no swarmfs involved).
    func writePayloadDirectly(into directory: String) throws {
        for file in layout.files where !file.isPadding {
            let path = directory + "/" + file.path.joined(separator: "/")
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            let start = Int(file.offset)
            _ = FileManager.default.createFile(atPath: path, contents: Data(payload[start..<start + Int(file.length)]))
        }
    }

    /// Writes every piece (or the given ones) through the store.
    func writePieces(_ pieces: some Sequence<Int>, to store: PieceStore) throws {
        for piece in pieces {
            let start = Int(layout.pieceOffset(piece))
            let end = start + layout.pieceSize(piece)
            try payload[start..<end].withUnsafeBytes { raw in
                try store.writePiece(piece, from: raw)
            }
        }
    }
}

/// Minimal bencode for building fixtures (keys sorted on encode, as BEP 3 requires).
indirect enum Bencoded {
    case int(Int)
    case bytes([UInt8])
    case list([Bencoded])
    case dict([(String, Bencoded)])

    func encoded() -> [UInt8] {
        switch self {
        case let .int(value): return Array("i\(value)e".utf8)
        case let .bytes(bytes): return Array("\(bytes.count):".utf8) + bytes
        case let .list(items): return [UInt8(ascii: "l")] + items.flatMap { $0.encoded() } + [UInt8(ascii: "e")]
        case let .dict(pairs):
            let sorted = pairs.sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
            return [UInt8(ascii: "d")] + sorted.flatMap { Bencoded.bytes(Array($0.0.utf8)).encoded() + $0.1.encoded() }
                + [UInt8(ascii: "e")]
        }
    }
}

/// st_blocks × 512 of a path (real allocation).
func allocated(_ path: String) -> Int64 {
    var info = stat()
    guard stat(path, &info) == 0 else { return -1 }
    return Int64(info.st_blocks) * 512
}

/// Reads a whole file (nil if missing).
func contents(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { Array($0) }
}

/// Sets a file's mtime explicitly (seconds since epoch).
func setModificationTime(_ path: String, seconds: Int) {
    var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
    _ = utimensat(AT_FDCWD, path, &times, 0)
}
