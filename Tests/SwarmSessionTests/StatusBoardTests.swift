import NIOCore
import SwarmContent
import Testing
@testable import SwarmSession

/// `swarmfs status` and the status attributes read the board on every call: it must not stat
/// the cache every time (`getfattr -R` reads one attribute per file).
struct StatusBoardTests {
    @Test func aStatusReadMeasuresTheDiskAtMostOncePerInterval() {
        let board = StatusBoard(SessionStatus(
            infoHash: "", name: "", totalLength: 0, verifiedBytes: 0, verifiedPieces: 0, pieceCount: 0,
            downloadedBytes: 0, uploadedBytes: 0, downloadRate: 0, uploadRate: 0, peers: 0, cacheDiskBytes: 0,
            pendingReads: 0, piecesWaitingForReaders: 0, files: []))
        var now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        var measurements = 0
        for _ in 0..<1000 {
            let status = board.current(now: now) { measurements += 1; return 4096 }
            #expect(status.cacheDiskBytes == 4096)
        }
        #expect(measurements == 1)
        now = now + StatusBoard.diskUsageInterval
        _ = board.current(now: now) { measurements += 1; return 8192 }
        #expect(measurements == 2)
    }
}
