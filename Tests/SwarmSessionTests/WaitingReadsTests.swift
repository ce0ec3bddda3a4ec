import NIOCore
import SwarmContent
import Testing
@testable import SwarmSession

/// The Foreman's book of waiting reads: one id per read, an index that never keeps reads that
/// left, and cancels that are not lost while a read is in a piece's job or being served.
struct WaitingReadsTests {
    private func waiter(pieces: Range<Int>, missing: Int) -> ReadWaiter {
        ReadWaiter(reader: ReaderID(rawValue: 1), fileIndex: 0, offset: 0, length: 1, pieces: pieces,
                   missing: missing, completion: { _ in }, since: .uptimeNanoseconds(0))
    }

    @Test func readsThatLeaveByAnyPathLeaveTheIndex() {
        var reads = WaitingReads()
        reads.add(waiter(pieces: 3..<5, missing: 2), id: 1, missing: [3, 4])
        reads.add(waiter(pieces: 4..<5, missing: 1), id: 2, missing: [4])
        reads.add(waiter(pieces: 7..<8, missing: 1), id: 3, missing: [7])
        // Timed out or cancelled: removed.
        let result1 = reads.remove(1)
        #expect(result1 != nil)
        #expect(reads.ids(waitingFor: 3).isEmpty)
        #expect(reads.ids(waitingFor: 4) == [2])
        // Answered when its piece is verified.
        let result2 = reads.pieceVerified(4)
        #expect(result2 == [2])
        let result3 = reads.remove(2)
        #expect(result3 != nil)
        // Handed to the job of its last piece.
        let result4 = reads.handToJob(completedBy: 7)
        #expect(result4.map(\.id) == [3])
        #expect(reads.indexedPieceCount == 0)
        #expect(reads.count == 0)
    }

    @Test func aReadWhosePieceFailsInItsJobWaitsAgainUnderTheSameID() {
        var reads = WaitingReads()
        reads.add(waiter(pieces: 2..<3, missing: 1), id: 9, missing: [2])
        _ = reads.handToJob(completedBy: 2)
        let result5 = reads.cancel(9)
        #expect(result5 == false)
        let back = reads.jobFinished(9, piece: 2, served: false)
        #expect(back?.cancelled == true)
        #expect(reads.ids(waitingFor: 2) == [9])
        let result6 = reads.cancel(9)
        #expect(result6)
        let result7 = reads.remove(9)
        #expect(result7 != nil)
        #expect(reads.indexedPieceCount == 0)
    }

    @Test func aCancelWhileTheReplyIsUnderWayIsHonouredIfTheReadMustWaitAgain() {
        // The eviction race: a verified read is served from the pool, finds its pieces
        // withdrawn, and comes back to wait. Its ticket cancels meanwhile, by its one id.
        var reads = WaitingReads()
        reads.beginServing(5)
        let result8 = reads.cancel(5)
        #expect(result8 == false)
        let result9 = reads.endServing(5)
        #expect(result9 == true)
        // Served without a cancel: nothing is left behind, and a late cancel is a no-op.
        reads.beginServing(6)
        let result10 = reads.endServing(6)
        #expect(result10 == false)
        let result11 = reads.cancel(6)
        #expect(result11 == false)
        let result12 = reads.endServing(6)
        #expect(result12 == false)
    }
}
