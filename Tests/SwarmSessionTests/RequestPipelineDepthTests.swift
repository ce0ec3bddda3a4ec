import NIOCore
import SwarmPieces
@testable import SwarmSession
import Testing

/// How many requests a peer's pipeline holds: slow start's first climb, and the round trip
/// that sizes it afterwards.
@Suite struct RequestPipelineDepthTests {
    @Test func slowStartGrowsABlockAtATimeUntilABlockIsLate() {
        var start = PipelineSlowStart()
        #expect(start.isRunning && start.depth == PipelineSlowStart.initialDepth)
        for _ in 0..<10 {
            let grew = start.blockArrived(elapsed: .milliseconds(200), quickest: .milliseconds(200), pipeFull: true)
            #expect(grew)
        }
        // Queued behind others, but within a quarter of the round trip (plus 5 ms): still growing.
        let queuedButInTime = start.blockArrived(elapsed: .milliseconds(255), quickest: .milliseconds(200), pipeFull: true)
        #expect(queuedButInTime)
        #expect(start.depth == PipelineSlowStart.initialDepth + 11)
        // A timely block on a pipe the reads leave less than half full grows nothing.
        let idle = start.blockArrived(elapsed: .milliseconds(200), quickest: .milliseconds(200), pipeFull: false)
        #expect(!idle && start.isRunning && start.depth == PipelineSlowStart.initialDepth + 11)
        // Later than that: the peer's queue has begun to grow, and slow start is over for good.
        let late = start.blockArrived(elapsed: .milliseconds(256), quickest: .milliseconds(200), pipeFull: true)
        #expect(!late)
        #expect(!start.isRunning)
        let afterwards = start.blockArrived(elapsed: .milliseconds(200), quickest: .milliseconds(200), pipeFull: true)
        #expect(!afterwards)
        #expect(start.depth == PipelineSlowStart.initialDepth + 11)
    }

    @Test func slowStartNeverPassesTheDeepestPipeline() {
        var start = PipelineSlowStart()
        for _ in 0..<(2 * RequestScheduler.maxPipelineDepth) {
            _ = start.blockArrived(elapsed: .milliseconds(1), quickest: .milliseconds(1), pipeFull: true)
        }
        #expect(start.isRunning && start.depth == RequestScheduler.maxPipelineDepth)
    }

    @Test func theQueueIsARoundTripAndAQuarterAndAMarginAtMostTwoSeconds() {
        #expect(RequestScheduler.queueSeconds(roundTrip: nil) == RequestScheduler.maxQueueSeconds)
        #expect(abs(RequestScheduler.queueSeconds(roundTrip: .milliseconds(200)) - 0.3) < 1e-9)
        #expect(RequestScheduler.queueSeconds(roundTrip: .seconds(5)) == RequestScheduler.maxQueueSeconds)
        // On loopback the queue is the margin: 100 MB/s x 0.05 s = 305 blocks.
        #expect(RequestScheduler.queueSeconds(roundTrip: .microseconds(50)) < 0.051)
    }

    /// A seeder 100 ms away unchokes us: returns it and the blocks of its first batch.
    private static func unchokedSeeder(in harness: ForemanHarness) async throws -> (TestPeer, [BlockSpec]) {
        let peer = try await harness.connectPeer()
        try await peer.receive(.bitfield(harness.allPieces))
        try await peer.receive(.unchoke)
        let first = try await peer.requests()
        #expect(first.count >= 32, "\(first.count)")
        return (peer, first)
    }

    private static func deliver(_ specs: some Sequence<BlockSpec>, from peer: TestPeer, in harness: ForemanHarness) async throws {
        for spec in specs {
            try await peer.receive(.piece(index: UInt32(spec.piece), begin: UInt32(spec.begin), block: harness.block(spec)))
        }
    }

    @Test func eachTimelyBlockLetsOneMoreRequestOutAndALateOneEndsTheClimb() async throws {
        try await ForemanHarness.with(pieces: 64, pieceLength: 64 * 1024) { harness in
            let (peer, first) = try await Self.unchokedSeeder(in: harness)
            harness.clock.advance(by: .milliseconds(100))
            try await Self.deliver(first.prefix(30), from: peer, in: harness)
            let (depth, running) = try await harness.onLoop { foreman in
                let connection = foreman.peers[peer.key]!
                return (connection.pipelineDepth, connection.slowStart.isRunning)
            }
            #expect(running)
            #expect(depth == PipelineSlowStart.initialDepth + 30, "one more per block that arrived in time")
            // The blocks asked for after those 30 come back 300 ms later: the queue at the peer grew.
            let second = try await peer.requests()
            #expect(!second.isEmpty)
            harness.clock.advance(by: .milliseconds(300))
            try await Self.deliver(second.prefix(1), from: peer, in: harness)
            let after = try await harness.onLoop { foreman in
                let connection = foreman.peers[peer.key]!
                return (connection.pipelineDepth, connection.slowStart.isRunning)
            }
            #expect(after == (depth, false))
        }
    }

    @Test func aBlockAskedForAgainAfterACancelTeachesNoRoundTrip() async throws {
        try await ForemanHarness.with(pieces: 64, pieceLength: 64 * 1024) { harness in
            let (peer, first) = try await Self.unchokedSeeder(in: harness)
            harness.clock.advance(by: .milliseconds(100))
            try await Self.deliver(first.prefix(1), from: peer, in: harness)
            // Every request is taken back (a seek's preemption would) and the same blocks asked
            // for again; 1 ms later the copy the peer had already sent arrives.
            let again = try await harness.onLoop { foreman in
                let connection = foreman.peers[peer.key]!
                foreman.scheduler.releaseAll(of: connection, sendCancel: true)
                foreman.scheduler.fill(connection)
                return Set(connection.outstanding.keys).intersection(connection.cancelledByUs.keys)
            }
            let asked = try await peer.requests()
            let reasked = try #require(asked.first { again.contains($0) }, "some block is asked for again")
            harness.clock.advance(by: .milliseconds(1))
            try await Self.deliver([reasked], from: peer, in: harness)
            let roundTrip = try await harness.onLoop { $0.peers[peer.key]!.roundTrip.value }
            #expect(roundTrip == .milliseconds(100))
        }
    }
}
