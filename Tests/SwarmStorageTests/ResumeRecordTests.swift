import Foundation
import Glibc
import SwarmMetainfo
@testable import SwarmStorage
import Testing

@Suite struct ResumeRecordTests {
    private func makeTorrent(_ temp: TemporaryDirectory, name: String = "res", seed: UInt64 = 7) throws -> TestTorrent {
        try TestTorrent(name: name, files: [TestFile(path: ["one"], length: 5000), TestFile(path: ["two"], length: 7000)],
                        pieceLength: 1024, seed: seed, directory: temp.path)
    }

    @Test func saveAndLoadRoundTrip() throws {
        let temp = TemporaryDirectory()
        let torrent = try makeTorrent(temp)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        try torrent.writePieces([0, 3, 7, 11], to: store)
        try store.sync()
        var verified = Bitfield(count: torrent.layout.pieceCount)
        for piece in [0, 3, 7, 11] { verified[piece] = true }
        try ResumeRecord.capture(store: store, infoHash: torrent.metainfo.infoHash, verified: verified).save(directory: dir)
        let loaded = try #require(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo))
        #expect(loaded.verified == verified)
        #expect(loaded.infoHash == torrent.metainfo.infoHash.bytes)
        #expect(loaded.files == ResumeRecord.currentFileStates(store: store))
        #expect(loaded.trustedPieces(store: store) == verified)
        #expect(!FileManager.default.fileExists(atPath: ResumeRecord.path(directory: dir) + ".tmp"))
    }

    /// A stop that changes nothing must not rewrite (and fsync) the record: the same inode stays.
    /// A record that differs is replaced, so the skip never hides a change.
    @Test func savingTheSameRecordAgainLeavesTheFileAlone() throws {
        let temp = TemporaryDirectory()
        let torrent = try makeTorrent(temp)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        try torrent.writePieces([0, 1], to: store)
        var verified = Bitfield(count: torrent.layout.pieceCount)
        verified[0] = true
        let record = ResumeRecord.capture(store: store, infoHash: torrent.metainfo.infoHash, verified: verified)
        try record.save(directory: dir)
        let path = ResumeRecord.path(directory: dir)
        let first = try #require(inode(path))
        try record.save(directory: dir)
        #expect(inode(path) == first, "an identical record is not rewritten")
        verified[1] = true
        try ResumeRecord.capture(store: store, infoHash: torrent.metainfo.infoHash, verified: verified).save(directory: dir)
        #expect(inode(path) != first, "a different record replaces the old one")
        #expect(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo)?.verified == verified)
    }

    /// The torrent copy in the cache follows the same rule: a second start writes nothing.
    @Test func storingTheSameTorrentCopyAgainLeavesTheFileAlone() throws {
        let temp = TemporaryDirectory()
        let dir = temp.path + "/cache"
        _ = try PieceStore(layout: try makeTorrent(temp).layout, directory: dir)
        try CacheRoot.storeTorrent(Array("d4:infod1:xi1eee".utf8), directory: dir)
        let path = StateDirectory.path(dir) + "/torrent"
        let first = try #require(inode(path))
        try CacheRoot.storeTorrent(Array("d4:infod1:xi1eee".utf8), directory: dir)
        #expect(inode(path) == first)
        try CacheRoot.storeTorrent(Array("d4:infod1:xi2eee".utf8), directory: dir)
        #expect(inode(path) != first)
        #expect(contents(path) == Array("d4:infod1:xi2eee".utf8))
    }

    private func inode(_ path: String) -> ino_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_ino : nil
    }

    @Test func corruptTruncatedForeignOrMissingRecordsAreAbsent() throws {
        let temp = TemporaryDirectory()
        let torrent = try makeTorrent(temp)
        let other = try makeTorrent(temp, name: "other", seed: 99)
        let dir = temp.path + "/cache"
        #expect(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo) == nil, "missing")
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        try ResumeRecord.capture(store: store, infoHash: torrent.metainfo.infoHash,
                                 verified: .full(count: torrent.layout.pieceCount)).save(directory: dir)
        let path = ResumeRecord.path(directory: dir)
        let good = try #require(contents(path))
        #expect(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo) != nil)
        #expect(ResumeRecord.load(directory: dir, metainfo: other.metainfo) == nil, "another torrent's record")

        for index in [0, 9, good.count / 2, good.count - 1] {
            var flipped = good
            flipped[index] ^= 0x10
            _ = FileManager.default.createFile(atPath: path, contents: Data(flipped))
            #expect(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo) == nil, "flipped byte \(index)")
        }
        for length in [0, 1, 8, good.count - 1] {
            _ = FileManager.default.createFile(atPath: path, contents: Data(good[0..<length]))
            #expect(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo) == nil, "truncated to \(length)")
        }
        _ = FileManager.default.createFile(atPath: path, contents: Data(good + [0]))
        #expect(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo) == nil, "trailing byte")
        _ = FileManager.default.createFile(atPath: path, contents: Data(payloadBytes(count: 1 << 20, seed: 3)))
        #expect(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo) == nil, "garbage")
        // A sealed record whose spare bitfield bits are set is rejected too.
        let pieces = torrent.layout.pieceCount  // 12: 4 spare bits in the second byte
        var record = ResumeRecord.capture(store: store, infoHash: torrent.metainfo.infoHash, verified: .full(count: pieces))
        record.pieceCount = pieces
        var bytes = record.encoded()
        let bitfieldStart = 8 + 1 + 20 + 4 + 4
        bytes[bitfieldStart + 1] |= 0x01
        let body = Array(bytes[0..<(bytes.count - 32)])
        bytes = body + Array(sha256(body))
        #expect(ResumeRecord.decode(bytes, metainfo: torrent.metainfo) == nil)
    }

    @Test func changedSizeOrMtimeRevokesTrustForThatFileOnly() throws {
        let temp = TemporaryDirectory()
        let torrent = try makeTorrent(temp)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        try torrent.writePieces(0..<torrent.layout.pieceCount, to: store)
        try store.sync()
        let all = Bitfield.full(count: torrent.layout.pieceCount)
        try ResumeRecord.capture(store: store, infoHash: torrent.metainfo.infoHash, verified: all).save(directory: dir)
        let record = try #require(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo))
        #expect(record.trustedPieces(store: store) == all)

        setModificationTime(dir + "/res/two", seconds: 1_000_000)
        let trusted = record.trustedPieces(store: store)
        // "one" is bytes 0..<5000 (pieces 0...4); piece 4 also holds the start of "two".
        for piece in 0..<torrent.layout.pieceCount {
            #expect(trusted[piece] == (piece < 4), "piece \(piece)")
        }
        truncate(dir + "/res/one", 4000)
        #expect(record.trustedPieces(store: store).isEmpty)
    }
}

func sha256(_ bytes: [UInt8]) -> [UInt8] {
    // Recompute the seal the way ResumeRecord does, to forge a well-sealed but invalid record.
    ResumeRecord.seal(bytes)
}
