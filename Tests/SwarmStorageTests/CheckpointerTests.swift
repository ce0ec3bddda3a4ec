import Foundation
import SwarmMetainfo
@testable import SwarmStorage
import Testing

@Suite struct CheckpointerTests {
    @Test func recordClaimsOnlyPiecesReportedBeforeTheCheckpoint() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "cp", files: [TestFile(path: ["f"], length: 40_000)], pieceLength: 4096,
                                      directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        let checkpointer = Checkpointer(store: store, infoHash: torrent.metainfo.infoHash,
                                        verified: Bitfield(count: torrent.layout.pieceCount))
        try torrent.writePieces([0, 1, 2], to: store)
        for piece in [0, 1, 2] { checkpointer.pieceWritten(piece) }
        try checkpointer.checkpoint()
        try torrent.writePieces([5], to: store)  // written, not yet reported
        checkpointer.pieceWritten(99)  // out of range: ignored
        let record = try #require(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo))
        #expect(record.verified.setIndices == [0, 1, 2])
        checkpointer.pieceWritten(5)
        try checkpointer.checkpoint()
        let later = try #require(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo))
        #expect(later.verified.setIndices == [0, 1, 2, 5])
        // The record's mtimes are those after the last write: a restart trusts it without hashing.
        let result = try Recheck.run(store: store, metainfo: torrent.metainfo, record: later)
        #expect(result.verified.setIndices == [0, 1, 2, 5])
        #expect(result.piecesHashed == 0)
    }

    @Test func evictionUnclaimsThenPunches() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "ev", files: [TestFile(path: ["f"], length: 1 << 20)], pieceLength: 64 << 10,
                                      directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        let checkpointer = Checkpointer(store: store, infoHash: torrent.metainfo.infoHash,
                                        verified: Bitfield(count: torrent.layout.pieceCount))
        try torrent.writePieces(0..<torrent.layout.pieceCount, to: store)
        for piece in 0..<torrent.layout.pieceCount { checkpointer.pieceWritten(piece) }
        try checkpointer.checkpoint()
        let before = store.allocatedBytes()
        try checkpointer.evict([3, 4, 5])
        #expect(store.allocatedBytes() <= before - 3 * (64 << 10))
        let record = try #require(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo))
        #expect(!record.verified[3] && !record.verified[4] && !record.verified[5])
        #expect(record.verified.setCount == torrent.layout.pieceCount - 3)
        #expect(!checkpointer.verifiedPieces[4])
        // After the punch the file's mtime differs from the record: a restart re-hashes it and
        // finds exactly the evicted pieces missing.
        let result = try Recheck.run(store: store, metainfo: torrent.metainfo, record: record)
        #expect(result.verified.setCount == torrent.layout.pieceCount - 3)
        #expect(!result.verified[3] && !result.verified[4] && !result.verified[5])
    }

    @Test func checkpointFailureKeepsPiecesForTheNextTry() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "fail", files: [TestFile(path: ["f"], length: 8192)], pieceLength: 4096,
                                      directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        let checkpointer = Checkpointer(store: store, infoHash: torrent.metainfo.infoHash,
                                        verified: Bitfield(count: 2))
        try torrent.writePieces([0], to: store)
        checkpointer.pieceWritten(0)
        // Make the state directory unwritable by putting a file where it should be.
        try? FileManager.default.removeItem(atPath: dir + "/.swarmfs")
        _ = FileManager.default.createFile(atPath: dir + "/.swarmfs", contents: Data([1]))
        #expect(throws: StorageError.self) { try checkpointer.checkpoint() }
        try FileManager.default.removeItem(atPath: dir + "/.swarmfs")
        try checkpointer.checkpoint()
        #expect(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo)?.verified.setIndices == [0])
    }
}
