import Foundation
import Glibc
import SwarmMetainfo
@testable import SwarmStorage
import Synchronization
import Testing

@Suite struct RecheckTests {
    private let files: [TestFile] = [
        TestFile(path: ["x", "a.bin"], length: 40_000),
        TestFile(path: ["x", "empty"], length: 0),
        TestFile(path: [".pad", "1"], length: 960, isPadding: true),
        TestFile(path: ["y", "b.bin"], length: 70_001),
    ]

    @Test func adoptsAFolderWrittenByAnotherClient() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "adopt", files: files, pieceLength: 4096, directory: temp.path)
        let dir = temp.path + "/other-client"
        try torrent.writePayloadDirectly(into: dir)
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        let calls = Mutex(0)
        let result = try Recheck.run(store: store, metainfo: torrent.metainfo, record: nil, threads: 2) { _ in
            calls.withLock { $0 += 1 }
        }
        #expect(result.verified.isComplete)
        #expect(result.piecesHashed == torrent.layout.pieceCount)
        #expect(result.trustedFromRecord == 0)
        #expect(calls.withLock { $0 } == torrent.layout.pieceCount)
    }

    @Test func presenceFromLengthsReadOnceSkipsShortMissingAndUnsafeFiles() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "gone", files: files, pieceLength: 4096, directory: temp.path)
        let dir = temp.path + "/cache"
        try torrent.writePayloadDirectly(into: dir)
        // a.bin cut short, b.bin replaced by a symbolic link to a long enough file elsewhere.
        #expect(truncate(dir + "/gone/x/a.bin", 20_000) == 0)
        #expect(unlink(dir + "/gone/y/b.bin") == 0)
        let outside = temp.path + "/outside.bin"
        #expect(FileManager.default.createFile(atPath: outside, contents: Data(count: 80_000)))
        #expect(symlink(outside, dir + "/gone/y/b.bin") == 0)
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        let lengths = store.storedFileLengths()
        #expect(lengths[0] == 20_000 && lengths[3] == nil)
        // Present: the pieces wholly inside a.bin's first 20,000 bytes, and nothing of b.bin.
        for piece in 0..<torrent.layout.pieceCount {
            #expect(store.isPresent(piece: piece, fileLengths: lengths) == (piece < 20_000 / 4096), "piece \(piece)")
        }
        let result = try Recheck.run(store: store, metainfo: torrent.metainfo, record: nil)
        #expect(result.verified.setCount == 20_000 / 4096 && result.piecesHashed == 20_000 / 4096)
        store.close()
    }

    @Test func flippedByteFailsOnlyItsPiece() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "flip", files: files, pieceLength: 4096, directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        try torrent.writePieces(0..<torrent.layout.pieceCount, to: store)
        try store.sync()
        let all = Bitfield.full(count: torrent.layout.pieceCount)
        try ResumeRecord.capture(store: store, infoHash: torrent.metainfo.infoHash, verified: all).save(directory: dir)
        store.close()

        // Behind swarmfs's back: flip a byte of b.bin at file offset 10_000 (torrent offset 50_960, piece 12).
        let path = dir + "/flip/y/b.bin"
        let fd = open(path, O_RDWR)
        var byte: UInt8 = 0
        #expect(pread(fd, &byte, 1, 10_000) == 1)
        byte ^= 0xFF
        #expect(pwrite(fd, &byte, 1, 10_000) == 1)
        close(fd)

        let reopened = try PieceStore(layout: torrent.layout, directory: dir)
        let record = ResumeRecord.load(directory: dir, metainfo: torrent.metainfo)
        #expect(record != nil)
        let result = try Recheck.run(store: reopened, metainfo: torrent.metainfo, record: record)
        let flippedPiece = Int((40_960 + 10_000) / 4096)
        for piece in 0..<torrent.layout.pieceCount {
            #expect(result.verified[piece] == (piece != flippedPiece), "piece \(piece)")
        }
        // a.bin was untouched: its pieces came from the record without hashing.
        let aPieces = 40_000 / 4096  // pieces 0...8 lie only in a.bin (piece 9 touches padding only beyond)
        #expect(result.trustedFromRecord >= aPieces)
        #expect(result.piecesHashed < torrent.layout.pieceCount)
    }

    @Test func recordIsTrustedWithoutHashingWhileFilesAreUnchanged() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "trust", files: files, pieceLength: 4096, directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        try torrent.writePieces(0..<torrent.layout.pieceCount, to: store)
        try store.sync()
        try ResumeRecord.capture(store: store, infoHash: torrent.metainfo.infoHash,
                                 verified: .full(count: torrent.layout.pieceCount)).save(directory: dir)
        let record = try #require(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo))
        let result = try Recheck.run(store: store, metainfo: torrent.metainfo, record: record)
        #expect(result.verified.isComplete)
        #expect(result.piecesHashed == 0)
        // With the mtime changed the same record no longer saves the work: everything is hashed.
        setModificationTime(dir + "/trust/x/a.bin", seconds: 12345)
        setModificationTime(dir + "/trust/y/b.bin", seconds: 12345)
        let again = try Recheck.run(store: store, metainfo: torrent.metainfo, record: record)
        #expect(again.verified.isComplete)
        #expect(again.trustedFromRecord == 0)
    }

    @Test func partialAndMissingDataVerifiesOnlyWhatIsThere() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "part", files: files, pieceLength: 4096, directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        #expect(try recheck(store: store, metainfo: torrent.metainfo, record: nil).isEmpty, "nothing on disk")
        let written = [0, 2, 9, 10, 26]
        try torrent.writePieces(written, to: store)
        let verified = try recheck(store: store, metainfo: torrent.metainfo, record: nil)
        #expect(verified.setIndices == written)
        // A record claiming pieces that are holes, with files changed since: not trusted.
        var lying = Bitfield.full(count: torrent.layout.pieceCount)
        lying[1] = true
        let record = ResumeRecord(infoHash: torrent.metainfo.infoHash.bytes, pieceCount: torrent.layout.pieceCount,
                                  verified: lying, files: torrent.layout.files.map { _ in .absent })
        #expect(try recheck(store: store, metainfo: torrent.metainfo, record: record).setIndices == written)
    }

    @Test func allZeroPieceInAHoleVerifiesByHash() throws {
        let temp = TemporaryDirectory()
        // A padding-only piece and a file of zeros copied sparse: both verify without reading data.
        let torrent = try TestTorrent(name: "zeros", files: [TestFile(path: ["z"], length: 8192)], pieceLength: 4096,
                                      directory: temp.path)
        let dir = temp.path + "/cache"
        try FileManager.default.createDirectory(atPath: dir + "/zeros", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/zeros/z", contents: nil)
        truncate(dir + "/zeros/z", 8192)
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        #expect(try recheck(store: store, metainfo: torrent.metainfo, record: nil).isEmpty, "random content is not zeros")

        let zeroFiles = [TestFile(path: ["z"], length: 8192)]
        let zeroTorrent = try ZeroTorrent(files: zeroFiles, directory: temp.path)
        let zeroStore = try PieceStore(layout: zeroTorrent.metainfo.layout, directory: dir)
        let result = try Recheck.run(store: zeroStore, metainfo: zeroTorrent.metainfo, record: nil)
        #expect(result.verified.isComplete)
        #expect(result.piecesHashed == 0, "holes are not read")
    }

    @Test func throughputAgainstSha1sum() throws {
        let temp = TemporaryDirectory()
        let pieceLength = 1 << 20
        let pieceCount = 256
        let dir = temp.path + "/cache"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // 256 MiB written a piece at a time (one random MiB, stamped with the piece index) so the
        // test never holds the payload in memory.
        var block = payloadBytes(count: pieceLength, seed: 11)
        var hashes: [UInt8] = []
        let fd = open(dir + "/speed", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd) }
        for piece in 0..<pieceCount {
            withUnsafeBytes(of: UInt64(piece)) { stamp in
                for index in 0..<8 { block[index] = stamp[index] }
            }
            hashes += block.withUnsafeBytes { PieceHasher.sha1($0) }
            #expect(block.withUnsafeBytes { PosixIO.writeFully(fd, $0, at: Int64(piece * pieceLength)) } == 0)
        }
        let info = Bencoded.dict([("name", .bytes(Array("speed".utf8))), ("piece length", .int(pieceLength)),
                                  ("pieces", .bytes(hashes)), ("length", .int(pieceLength * pieceCount))])
        let metainfo = try Metainfo(bytes: Bencoded.dict([("info", info)]).encoded())
        let store = try PieceStore(layout: metainfo.layout, directory: dir, mode: .readOnly)
        let started = DispatchTime.now().uptimeNanoseconds
        let result = try Recheck.run(store: store, metainfo: metainfo, record: nil)
        let ours = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        #expect(result.verified.isComplete)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha1sum")
        process.arguments = [dir + "/speed"]
        process.standardOutput = FileHandle.nullDevice
        let sha1Started = DispatchTime.now().uptimeNanoseconds
        try process.run()
        process.waitUntilExit()
        let theirs = Double(DispatchTime.now().uptimeNanoseconds - sha1Started) / 1e9
        let mib = Double(pieceLength * pieceCount) / 1_048_576
        print(String(format: "THROUGHPUT recheck 256 MiB: %.0f MiB/s (%d threads); sha1sum same file: %.0f MiB/s",
                     mib / ours, Recheck.defaultThreads, mib / theirs))
    }
}

/// A torrent whose content is all zeros (for hole tests).
struct ZeroTorrent {
    let metainfo: Metainfo

    init(files: [TestFile], directory: String) throws {
        let total = files.reduce(0) { $0 + $1.length }
        let zeros = [UInt8](repeating: 0, count: 4096)
        var pieces: [UInt8] = []
        var offset = 0
        while offset < total {
            let size = min(4096, total - offset)
            pieces += zeros[0..<size].withUnsafeBytes { PieceHasher.sha1($0) }
            offset += size
        }
        let info = Bencoded.dict([
            ("name", .bytes(Array("zeros".utf8))), ("piece length", .int(4096)), ("pieces", .bytes(pieces)),
            ("files", .list(files.map { .dict([("length", .int($0.length)), ("path", .list($0.path.map { .bytes(Array($0.utf8)) }))]) })),
        ])
        metainfo = try Metainfo(bytes: Bencoded.dict([("info", info)]).encoded())
    }
}
