import Foundation
import SwarmMetainfo
import SwarmStorage

/// Builds small torrents and their payload directories for tests: a bencoded info dictionary
/// written by hand, with the real piece hashes of files whose bytes are a deterministic function
/// of their path and offset (padding files are zeros).
struct TestTorrent {
    struct File {
        let path: [String]
        let length: Int
        var isPadding = false
    }

    let metainfo: Metainfo
    /// The download DIR holding the payload (`DIR/<name>...`).
    let directory: String

    /// A torrent named `name`; one file without `files` gives a single-file torrent.
    init(name: String, files: [File], pieceLength: Int = 16384, single: Bool = false) throws {
        var info = "d"
        var total = 0
        if single {
            total = files[0].length
            info += "6:lengthi\(total)e"
        } else {
            info += "5:filesl"
            for file in files {
                info += "d"
                if file.isPadding { info += "4:attr1:p" }
                info += "6:lengthi\(file.length)e4:pathl"
                for component in file.path { info += "\(component.utf8.count):\(component)" }
                info += "ee"
                total += file.length
            }
            info += "e"
        }
        info += "4:name\(name.utf8.count):\(name)12:piece lengthi\(pieceLength)e"
        let pieceCount = max(1, (total + pieceLength - 1) / pieceLength)
        var payload: [UInt8] = []
        for file in files {
            let path = single ? [name] : [name] + file.path
            payload += file.isPadding ? [UInt8](repeating: 0, count: file.length) : Self.content(of: path, length: file.length)
        }
        var bytes = Array(info.utf8)
        bytes += Array("6:pieces\(pieceCount * 20):".utf8)
        for piece in 0..<pieceCount {
            let range = piece * pieceLength ..< min(payload.count, (piece + 1) * pieceLength)
            bytes += payload[range].withUnsafeBytes { PieceHasher.sha1($0) }
        }
        bytes += Array("e".utf8)
        metainfo = try Metainfo(infoDictionary: bytes)

        directory = NSTemporaryDirectory() + "swarmfs-test-\(UUID().uuidString)"
        for file in metainfo.userFiles {
            let path = ([directory] + file.path).joined(separator: "/")
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data(Self.content(of: file.path, length: Int(file.length))).write(to: URL(fileURLWithPath: path))
        }
    }

    /// The bytes a file holds: differ per file and per offset, so misplaced reads show.
    static func content(of path: [String], length: Int) -> [UInt8] {
        var seed = UInt32(truncatingIfNeeded: path.joined(separator: "/").utf8.reduce(7) { $0 &* 31 &+ Int($1) })
        return (0..<length).map { _ in
            seed = seed &* 1_103_515_245 &+ 12345
            return UInt8(truncatingIfNeeded: seed >> 16)
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
