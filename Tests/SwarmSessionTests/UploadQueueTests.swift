import NIOCore
@testable import SwarmSession
import SwarmWire
import Testing

private func request(_ n: Int) -> BlockRequest {
    BlockRequest(piece: UInt32(n / 16), begin: UInt32(n % 16) * 16_384, length: 16_384)
}

private let block = ByteBuffer(repeating: 7, count: 16_384)

@Test func theQueueHoldsNoMoreThanItsLimitsWhateverPeersAsk() {
    var queue = UploadQueue(totalByteLimit: 10 * 16_384, perPeerByteLimit: 4 * 16_384)
    // A leecher that keeps its pipeline full asks for more than fits, every tick, for ever.
    var accepted: [Int32: Int] = [:]
    for round in 0..<1_000 {
        for peer: Int32 in 1...5 {
            if queue.reserve(16_384, for: peer) {
                queue.enqueue(block, for: request(round), peer: peer)
                accepted[peer, default: 0] += 1
            }
            #expect(queue.reservedBytes(of: peer) <= 4 * 16_384)
        }
        #expect(queue.reservedBytes <= 10 * 16_384)
        #expect(queue.count <= 10)
        // The rate limit lets two blocks out per round.
        _ = queue.popFirst()
        _ = queue.popFirst()
    }
    #expect(queue.reservedBytes == queue.count * 16_384)
    #expect(accepted.values.allSatisfy { $0 > 0 })
}

@Test func blocksLeaveFirstInFirstOutAndCancelledOnesNever() throws {
    var queue = UploadQueue()
    for n in 0..<4 {
        let outcome1 = queue.reserve(16_384, for: 1)
        #expect(outcome1)
        queue.enqueue(block, for: request(n), peer: 1)
    }
    let outcome2 = queue.cancel(request(1), peer: 1)
    #expect(outcome2)
    let outcome3 = queue.cancel(request(1), peer: 1)
    #expect(!outcome3)
    let outcome4 = queue.cancel(request(2), peer: 2)
    #expect(!outcome4)
    let outcome5 = queue.popFirst()
    #expect(try #require(outcome5).request == request(0))
    let outcome6 = queue.popFirst()
    #expect(try #require(outcome6).request == request(2))
    let outcome7 = queue.popFirst()
    #expect(try #require(outcome7).request == request(3))
    let outcome8 = queue.popFirst()
    #expect(outcome8 == nil)
    #expect(queue.reservedBytes == 0)
}

@Test func aPeerThatLeavesTakesItsBlocksWithIt() {
    var queue = UploadQueue()
    for n in 0..<3 {
        _ = queue.reserve(16_384, for: 1)
        queue.enqueue(block, for: request(n), peer: 1)
        _ = queue.reserve(16_384, for: 2)
        queue.enqueue(block, for: request(n), peer: 2)
    }
    _ = queue.reserve(16_384, for: 1)   // a disk read still under way
    queue.removeAll(of: 1)
    #expect(queue.count == 3)
    #expect(queue.reservedBytes(of: 1) == 16_384)
    queue.release(16_384, for: 1)        // the read finished for a peer that is gone
    #expect(queue.reservedBytes == 3 * 16_384)
    while let item = queue.popFirst() { #expect(item.peer == 2) }
    #expect(queue.reservedBytes == 0)
}

@Test func cancellingManyKeepsTheQueueSmall() {
    var queue = UploadQueue()
    for n in 0..<100_000 {
        _ = queue.reserve(16_384, for: 1)
        queue.enqueue(block, for: request(n), peer: 1)
        let outcome9 = queue.cancel(request(n), peer: 1)
        #expect(outcome9)
    }
    #expect(queue.count == 0)
    #expect(queue.reservedBytes == 0)
    let outcome10 = queue.popFirst()
    #expect(outcome10 == nil)
}
