import Foundation
import SwarmMetainfo
@testable import SwarmStorage
import Testing

@Suite struct EvictionPlannerTests {
    private let layout = FileLayout(pieceLength: 100, files: [(path: ["f"], length: 1_050, isPadding: false)])

    @Test func evictsColdestUnprotectedPiecesDownToTheTarget() {
        var planner = EvictionPlanner(pieceCount: layout.pieceCount, limit: 500, hysteresis: 100)
        let verified = Bitfield.full(count: layout.pieceCount)  // 11 pieces, the last one 50 bytes
        for piece in [3, 1, 4, 0, 5, 9, 2, 6] { planner.touch(piece) }  // 7, 8, 10 never used: coldest
        #expect(planner.victims(allocated: 500, verified: verified, layout: layout, isProtected: { _ in false }).isEmpty)
        // 1_050 allocated, target 400: free 650 bytes -> 7, 8, 10 (250), then 3, 1, 4, 0 (400).
        let victims = planner.victims(allocated: 1_050, verified: verified, layout: layout, isProtected: { $0 == 1 })
        #expect(victims == [7, 8, 10, 3, 4, 0, 5])
        #expect(!victims.contains(1), "protected pieces are never chosen")
    }

    @Test func onlyVerifiedPiecesAreCandidatesAndAllProtectedMeansNone() {
        let planner = EvictionPlanner(pieceCount: layout.pieceCount, limit: 0)
        var verified = Bitfield(count: layout.pieceCount)
        verified[2] = true
        verified[6] = true
        #expect(planner.victims(allocated: 10_000, verified: verified, layout: layout, isProtected: { _ in false }) == [2, 6])
        #expect(planner.victims(allocated: 10_000, verified: verified, layout: layout, isProtected: { _ in true }).isEmpty)
        #expect(planner.hasRoom(allocated: 0, for: 0))
        #expect(!planner.hasRoom(allocated: 0, for: 1))
    }

    /// Streams a file twice through a cache limited to a quarter of its size, evicting as a
    /// session would: disk use (st_blocks) stays under the limit plus the read window, and every
    /// byte read on both passes is correct.
    @Test func streamingTwiceUnderALimitStaysBoundedAndCorrect() throws {
        let temp = TemporaryDirectory()
        let pieceLength = 64 << 10
        let torrent = try TestTorrent(name: "stream", files: [TestFile(path: [], length: 4 << 20)], pieceLength: pieceLength,
                                      singleFile: true, directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        let checkpointer = Checkpointer(store: store, infoHash: torrent.metainfo.infoHash,
                                        verified: Bitfield(count: torrent.layout.pieceCount))
        let limit = Int64(1 << 20)
        let window = 4
        var planner = EvictionPlanner(pieceCount: torrent.layout.pieceCount, limit: limit)
        var peak: Int64 = 0
        var fetched = 0
        var buffer = [UInt8](repeating: 0, count: pieceLength)
        for _ in 0..<2 {
            for piece in 0..<torrent.layout.pieceCount {
                for ahead in piece..<min(piece + window, torrent.layout.pieceCount) where !checkpointer.verifiedPieces[ahead] {
                    try torrent.writePieces([ahead], to: store)  // "downloaded" and verified
                    checkpointer.pieceWritten(ahead)
                    planner.touch(ahead)
                    fetched += 1
                }
                try buffer.withUnsafeMutableBytes { raw in try store.readPiece(piece, into: raw) }
                #expect(buffer == Array(torrent.payload[piece * pieceLength ..< (piece + 1) * pieceLength]), "piece \(piece)")
                planner.touch(piece)
                let allocated = store.allocatedBytes()
                peak = max(peak, allocated)
                let victims = planner.victims(allocated: allocated, verified: checkpointer.verifiedPieces,
                                              layout: torrent.layout, isProtected: { $0 >= piece && $0 < piece + window })
                try checkpointer.evict(victims)
            }
        }
        #expect(peak <= limit + Int64(window * pieceLength), "peak \(peak)")
        #expect(fetched >= 2 * torrent.layout.pieceCount - 16, "second pass had to fetch evicted pieces again")
        // Evictions save records without a sync, so they claim only what a checkpoint made
        // durable: nothing here until the checkpoint, then exactly the cached pieces.
        let unsynced = try #require(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo))
        #expect(unsynced.verified.setIndices.allSatisfy { checkpointer.verifiedPieces[$0] })
        try checkpointer.checkpoint()
        let record = try #require(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo))
        #expect(record.verified == checkpointer.verifiedPieces)
        #expect(Int64(record.verified.setCount * pieceLength) <= limit)
    }

    @Test func availableBytesReportsTheFilesystem() throws {
        let temp = TemporaryDirectory()
        let layout = FileLayout(pieceLength: 16, files: [(path: ["f"], length: 10, isPadding: false)])
        let store = try PieceStore(layout: layout, directory: temp.path + "/not/yet/created")
        let free = try #require(store.availableBytes())
        #expect(free > 0)
    }
}
