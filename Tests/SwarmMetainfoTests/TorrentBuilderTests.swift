import Foundation
import SwarmMetainfo
import Testing

/// A scratch folder removed when the test ends.
final class ScratchDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "swarmfs-builder-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes deterministic pseudo-random bytes.
    func write(_ relative: String, length: Int, seed: UInt8) throws -> [UInt8] {
        let url = URL(fileURLWithPath: path).appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var state = UInt32(seed) &+ 1
        let bytes = (0..<length).map { _ -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        try Data(bytes).write(to: url)
        return bytes
    }
}

/// Verifies every piece hash of `metainfo` against the concatenated payload.
private func expectPiecesMatch(_ metainfo: Metainfo, payload: [UInt8]) {
    #expect(Int64(payload.count) == metainfo.layout.totalLength)
    for piece in 0..<metainfo.layout.pieceCount {
        let start = Int(metainfo.layout.pieceOffset(piece))
        let bytes = payload[start..<(start + metainfo.layout.pieceSize(piece))]
        #expect(InfoHash.sha1(of: bytes).bytes == Array(metainfo.pieceHash(piece)), "piece \(piece)")
    }
}

@Suite("TorrentBuilder")
struct TorrentBuilderTests {
    @Test("automatic piece length follows libtorrent's rule")
    func automaticPieceLength() {
        #expect(TorrentBuilder.automaticPieceLength(totalLength: 1) == 16 << 10)
        #expect(TorrentBuilder.automaticPieceLength(totalLength: 2048 * (16 << 10)) == 16 << 10)
        #expect(TorrentBuilder.automaticPieceLength(totalLength: 2048 * (16 << 10) + 2048) == 32 << 10)
        #expect(TorrentBuilder.automaticPieceLength(totalLength: 1 << 40) == 4 << 20)
        #expect(TorrentBuilder.isValidPieceLength(16 << 10))
        #expect(!TorrentBuilder.isValidPieceLength(3 << 14))
        #expect(!TorrentBuilder.isValidPieceLength(8 << 10))
        #expect(!TorrentBuilder.isValidPieceLength(512 << 20))
    }

    @Test("a folder becomes a multi-file torrent in sorted order whose hashes match", arguments: [1, 2, 4])
    func folder(threads: Int) throws {
        let scratch = try ScratchDirectory()
        let root = scratch.path + "/album"
        var payload: [UInt8] = []
        // Sorted byte-wise: "B.txt" < "a/x.bin" < "a/y.bin" < "empty" < "z.bin".
        payload += try scratch.write("album/B.txt", length: 70_001, seed: 1)
        payload += try scratch.write("album/a/x.bin", length: 16_384, seed: 2)
        payload += try scratch.write("album/a/y.bin", length: 1, seed: 3)
        _ = try scratch.write("album/empty", length: 0, seed: 4)
        payload += try scratch.write("album/z.bin", length: 33_333, seed: 5)

        var options = TorrentBuilder.Options()
        options.pieceLength = 16 << 10
        options.threads = threads
        options.announce = ["http://127.0.0.1:6969/announce", "udp://127.0.0.1:6969"]
        options.webSeeds = ["http://127.0.0.1:8080/"]
        options.comment = "test"
        options.creationDate = 1_700_000_000
        options.isPrivate = true
        let builder = try TorrentBuilder(path: root, options: options)
        let bytes = try builder.build()
        let metainfo = try Metainfo(bytes: bytes)
        #expect(metainfo.name == "album")
        #expect(metainfo.userFiles.map(\.joinedPath)
                == ["album/B.txt", "album/a/x.bin", "album/a/y.bin", "album/empty", "album/z.bin"])
        #expect(metainfo.isPrivate && !metainfo.isSingleFile)
        #expect(metainfo.trackers == [["http://127.0.0.1:6969/announce"], ["udp://127.0.0.1:6969"]])
        #expect(metainfo.webSeeds == ["http://127.0.0.1:8080/"])
        #expect(metainfo.comment == "test")
        #expect(metainfo.creationDate == 1_700_000_000)
        expectPiecesMatch(metainfo, payload: payload)
        // Deterministic: the same folder and options give the same bytes.
        #expect(try TorrentBuilder(path: root, options: options).build() == bytes)
    }

    @Test("a single file becomes a single-file torrent; progress reaches the total")
    func singleFile() throws {
        let scratch = try ScratchDirectory()
        let payload = try scratch.write("movie.mkv", length: 1_000_003, seed: 9)
        let builder = try TorrentBuilder(path: scratch.path + "/movie.mkv")
        #expect(builder.layout.pieceLength == 16 << 10)
        let last = ManagedAtomicBox()
        let metainfo = try Metainfo(bytes: builder.build { done, total in last.record(done, total) })
        #expect(metainfo.isSingleFile)
        #expect(metainfo.userFiles.map(\.path) == [["movie.mkv"]])
        expectPiecesMatch(metainfo, payload: payload)
        #expect(last.maximum == (1_000_003, 1_000_003))
    }

    @Test("bad sources and piece lengths are reported with the path")
    func errors() throws {
        let scratch = try ScratchDirectory()
        #expect(throws: TorrentBuildError.noData(path: scratch.path)) { try TorrentBuilder(path: scratch.path) }
        _ = try scratch.write("zero", length: 0, seed: 0)
        #expect(throws: TorrentBuildError.noData(path: scratch.path + "/zero")) {
            try TorrentBuilder(path: scratch.path + "/zero")
        }
        let missing = scratch.path + "/missing"
        #expect(throws: TorrentBuildError.cannotAccess(path: missing, reason: "No such file or directory")) {
            try TorrentBuilder(path: missing)
        }
        var options = TorrentBuilder.Options()
        options.pieceLength = 1000
        #expect(throws: TorrentBuildError.invalidPieceLength(1000)) {
            try TorrentBuilder(path: scratch.path, options: options)
        }
    }
}

/// Records the largest progress report seen (called from hashing threads).
final class ManagedAtomicBox: @unchecked Sendable {
    private let lock = NSLock()
    private var best: (Int64, Int64) = (0, 0)
    func record(_ done: Int64, _ total: Int64) {
        lock.lock()
        if done >= best.0 { best = (done, total) }
        lock.unlock()
    }
    var maximum: (Int64, Int64) {
        lock.lock()
        defer { lock.unlock() }
        return best
    }
}
