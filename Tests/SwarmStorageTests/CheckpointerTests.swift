import Foundation
import SwarmMetainfo
@testable import SwarmStorage
import Testing

@Suite struct CheckpointerTests {
    /// A 40,000-byte torrent in 4 KiB pieces, an empty cache for it, and its checkpointer.
    private func emptyCache(in temp: TemporaryDirectory) throws -> (TestTorrent, String, PieceStore, Checkpointer) {
        let torrent = try TestTorrent(name: "cp", files: [TestFile(path: ["f"], length: 40_000)], pieceLength: 4096,
                                      directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        let checkpointer = Checkpointer(store: store, infoHash: torrent.metainfo.infoHash,
                                        verified: Bitfield(count: torrent.layout.pieceCount))
        return (torrent, dir, store, checkpointer)
    }

    @Test func recordClaimsOnlyPiecesReportedBeforeTheCheckpoint() throws {
        let temp = TemporaryDirectory()
        let (torrent, dir, store, checkpointer) = try emptyCache(in: temp)
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

    @Test func aFinalCheckpointClaimsUnsyncedPiecesForThisBootOnly() throws {
        let temp = TemporaryDirectory()
        let (torrent, dir, store, checkpointer) = try emptyCache(in: temp)
        try torrent.writePieces([0, 1], to: store)
        for piece in [0, 1] { checkpointer.pieceWritten(piece) }
        try checkpointer.checkpoint()
        try torrent.writePieces([4, 6], to: store)
        for piece in [4, 6] { checkpointer.pieceWritten(piece) }
        try checkpointer.checkpoint(syncData: false)
        store.close()
        let record = try #require(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo))
        #expect(record.verified.setIndices == [0, 1])
        #expect(record.unsynced.setIndices == [4, 6])
        #expect(record.bootID == BootIdentity.current)

        let reopened = try PieceStore(layout: torrent.layout, directory: dir)
        // The same boot: the page cache still holds pieces 4 and 6, nothing is hashed.
        let sameBoot = try Recheck.run(store: reopened, metainfo: torrent.metainfo, record: record)
        #expect(sameBoot.verified.setIndices == [0, 1, 4, 6])
        #expect(sameBoot.piecesHashed == 0)
        // After a reboot only synced pieces are taken on trust; the others are hashed again.
        let otherBoot = Array("00000000-0000-4000-8000-000000000000".utf8)
        #expect(record.trustedPieces(store: reopened, boot: otherBoot).setIndices == [0, 1])
        #expect(record.trustedPieces(store: reopened, boot: []).setIndices == [0, 1])
    }

    @Test func aSyncedCheckpointAfterAnUnsyncedOneMakesItsPiecesDurable() throws {
        let temp = TemporaryDirectory()
        let (torrent, dir, store, checkpointer) = try emptyCache(in: temp)
        try torrent.writePieces([2, 3], to: store)
        for piece in [2, 3] { checkpointer.pieceWritten(piece) }
        try checkpointer.checkpoint(syncData: false)
        #expect(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo)?.verified.setIndices == [])
        // Nothing new was reported, yet the next periodic checkpoint still syncs and claims them.
        try checkpointer.checkpoint()
        let record = try #require(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo))
        #expect(record.verified.setIndices == [2, 3])
        #expect(record.unsynced.setIndices == [])
    }
}
