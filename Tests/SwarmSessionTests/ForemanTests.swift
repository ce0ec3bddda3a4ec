import NIOCore
import SwarmContent
import SwarmMetainfo
import SwarmPieces
@testable import SwarmSession
import SwarmWire
import Testing

/// The Foreman driven event by event: peers are testing channels, time is a manual clock.
@Suite(.timeLimit(.minutes(1)))
struct ForemanTests {
    @Test func aBitfieldAfterHaveNoneCountsOnceInAvailability() async throws {
        try await ForemanHarness.with(pieces: 4) { harness in
            let peer = try await harness.connectPeer()
            try await peer.receive(.haveNone)
            try await peer.receive(.bitfield(harness.allPieces))
            #expect(try await harness.onLoop { foreman in (0..<4).map { foreman.picker.availability(of: $0) } } == [1, 1, 1, 1])
            // A repeated summary replaces the first one, it does not add to it.
            try await peer.receive(.bitfield(harness.allPieces))
            #expect(try await harness.onLoop { foreman in (0..<4).map { foreman.picker.availability(of: $0) } } == [1, 1, 1, 1])
            try await peer.channel.close()
            #expect(try await harness.onLoop { foreman in (0..<4).map { foreman.picker.availability(of: $0) } } == [0, 0, 0, 0])
        }
    }

    @Test func aPeerSendingBadPiecesAloneIsBannedAtTheSecondNotTheFirst() async throws {
        try await ForemanHarness.with(pieces: 3) { harness in
            let peer = try await harness.connectPeer()
            try await peer.receive(.bitfield(harness.allPieces))
            try await peer.receive(.unchoke)
            let requested = try await peer.requests()
            try #require(requested.count == 3)
            let garbage = ByteBuffer(repeating: 0xA5, count: requested[0].length)

            try await peer.receive(.piece(index: UInt32(requested[0].piece), begin: 0, block: garbage))
            try await harness.waitUntil("the first bad piece is checked") { $0.peers[peer.key]?.hashFailures == 1 }
            #expect(try await harness.onLoop { !$0.roster.directory.isBanned(host: peer.host) && $0.peers[peer.key] != nil },
                    "one bad piece may be bad luck: the peer stays")

            try await peer.receive(.piece(index: UInt32(requested[1].piece), begin: 0, block: garbage))
            try await harness.waitUntil("the second bad piece bans the peer") { $0.roster.directory.isBanned(host: peer.host) }
            #expect(try await harness.onLoop { $0.peers[peer.key] == nil }, "a banned peer is disconnected")
        }
    }

    @Test func peersSharingBadPiecesAreBannedAtTheThirdNotTheSecond() async throws {
        // Pieces of two blocks: the first block of each comes from one peer, the second from
        // another, so every bad piece has two senders.
        try await ForemanHarness.with(pieces: 4, pieceLength: 32 * 1024) { harness in
            let first = try await harness.connectPeer(host: "127.0.0.2")
            try await first.receive(.bitfield(harness.allPieces))
            try await first.receive(.unchoke)
            let asked = try await first.requests()
            try #require(asked.count == 8)
            let garbage = ByteBuffer(repeating: 0xC3, count: 16 * 1024)
            for piece in 0..<3 {
                try await first.receive(.piece(index: UInt32(piece), begin: 0, block: garbage))
            }
            // The first peer chokes us and rejects the rest, which the second peer is then asked for.
            try await first.receive(.choke)
            for spec in asked where !(spec.piece < 3 && spec.begin == 0) {
                try await first.receive(.reject(BlockRequest(piece: UInt32(spec.piece), begin: UInt32(spec.begin),
                                                             length: UInt32(spec.length))))
            }
            let second = try await harness.connectPeer(host: "127.0.0.3")
            try await second.receive(.bitfield(harness.allPieces))
            try await second.receive(.unchoke)
            let taken = Set(try await second.requests())
            try #require((0..<3).allSatisfy { taken.contains(BlockSpec(piece: $0, begin: 16 * 1024, length: 16 * 1024)) })

            let keys = [first.key, second.key]
            for piece in 0..<2 {
                try await second.receive(.piece(index: UInt32(piece), begin: 16 * 1024, block: garbage))
                try await harness.waitUntil("bad piece \(piece) is checked") { foreman in
                    keys.allSatisfy { foreman.peers[$0]?.hashFailures == piece + 1 }
                }
            }
            #expect(try await harness.onLoop { foreman in
                keys.allSatisfy { foreman.peers[$0] != nil }
                    && !foreman.roster.directory.isBanned(host: "127.0.0.2") && !foreman.roster.directory.isBanned(host: "127.0.0.3")
            }, "two shared bad pieces may be bad luck: both peers stay")

            try await second.receive(.piece(index: 2, begin: 16 * 1024, block: garbage))
            try await harness.waitUntil("the third shared bad piece bans both peers") { foreman in
                foreman.roster.directory.isBanned(host: "127.0.0.2") && foreman.roster.directory.isBanned(host: "127.0.0.3")
            }
            #expect(try await harness.onLoop { foreman in keys.allSatisfy { foreman.peers[$0] == nil } },
                    "banned peers are disconnected")
        }
    }

    @Test func aStalledPeersRequestsGoToAnotherPeerAfterTheStallTime() async throws {
        // Four pieces of four blocks fit in memory at once: the first peer holds all of them, so
        // the second can only get blocks by taking over the first one's.
        try await ForemanHarness.with(pieces: 8, pieceLength: 64 * 1024, memoryBudget: 1) { harness in
            let slow = try await harness.connectPeer(port: 7001)
            try await slow.receive(.bitfield(harness.allPieces))
            try await slow.receive(.unchoke)
            let held = Set(try await slow.requests())
            try #require(held.count == 16)

            harness.clock.advance(by: .seconds(5))
            let other = try await harness.connectPeer(port: 7002)
            try await other.receive(.bitfield(harness.allPieces))
            try await other.receive(.unchoke)
            #expect(try await other.requests().isEmpty, "every piece that fits in memory is being fetched already")

            // 9 s without a block: under the stall time, nothing moves.
            harness.clock.advance(by: .seconds(4))
            try await harness.onLoop { $0.tick() }
            #expect(try await slow.sentMessages().filter(\.isCancel).isEmpty)
            #expect(try await other.requests().isEmpty)

            // 10.5 s: the slow peer loses its requests, and the other peer gets them.
            harness.clock.advance(by: .milliseconds(1500))
            try await harness.onLoop { $0.tick() }
            let cancelled = Set(try await slow.sentMessages().compactMap(\.cancelledBlock))
            #expect(cancelled == held)
            let reassigned = try await other.requests()
            #expect(!reassigned.isEmpty)
            #expect(Set(reassigned).isSubset(of: held))
        }
    }

    @Test func aReadCancelledWhileItsPieceIsHashedFailsOnceWithCancelled() async throws {
        try await ForemanHarness.with(pieces: 2) { harness in
            let peer = try await harness.connectPeer()
            try await peer.receive(.bitfield(harness.allPieces))
            try await peer.receive(.unchoke)
            let requested = try await peer.requests()
            try #require(requested.count == 2)
            let outcomes = ReadOutcomes()
            let spec = requested[0]
            let key = peer.key
            let reader = ReaderID(rawValue: 1)
            try await harness.onLoop { foreman in
                foreman.openReader(reader, fileIndex: 0)
                foreman.addWaiter(id: 1, reader: reader, fileIndex: 0, offset: Int64(spec.piece * 16 * 1024), length: 100) {
                    outcomes.record($0)
                }
            }
            // The last block lands and the cancel comes in the same turn of the loop: the hash
            // job has the read, and cannot report before the cancel is in.
            let garbage = ByteBuffer(repeating: 0x5A, count: spec.length)
            try await harness.onLoop { foreman in
                guard let connection = foreman.peers[key] else { return }
                foreman.peer(connection, sent: .piece(index: UInt32(spec.piece), begin: UInt32(spec.begin), block: garbage))
                #expect(foreman.hashJobsInFlight == 1)
                foreman.cancelWaiter(1)
            }
            try await harness.waitForOutcomes(outcomes)
            try await harness.waitUntil("the hash job reported") { $0.hashJobsInFlight == 0 }
            try await harness.onLoop { $0.cancelWaiter(1) }
            _ = try await harness.onLoop { $0.shutdown() }.get()
            try await harness.threadPool.shutdownGracefully()
            #expect(outcomes.all == [.failure(.cancelled)])
        }
    }

    @Test func aReadIsAnsweredExactlyOnceUnderCancelTimeoutAndShutdown() async throws {
        try await ForemanHarness.with(pieces: 2, configure: { $0.readTimeout = .seconds(30) }) { harness in
            let cancelled = ReadOutcomes(), timedOut = ReadOutcomes(), stopped = ReadOutcomes()
            let reader = ReaderID(rawValue: 1)
            try await harness.onLoop { foreman in
                foreman.openReader(reader, fileIndex: 0)
                foreman.addWaiter(id: 1, reader: reader, fileIndex: 0, offset: 0, length: 100) { cancelled.record($0) }
                foreman.addWaiter(id: 2, reader: reader, fileIndex: 0, offset: 16 * 1024, length: 100) { timedOut.record($0) }
                foreman.cancelWaiter(1)
                foreman.cancelWaiter(1)
            }
            try await harness.waitForOutcomes(cancelled)
            // The read timeout is a timer on the loop; the clock says when the read timed out.
            harness.clock.advance(by: .seconds(30))
            await harness.loop.advanceTime(by: .seconds(30))
            try await harness.waitForOutcomes(timedOut)
            try await harness.onLoop { foreman in
                foreman.cancelWaiter(2)
                foreman.addWaiter(id: 3, reader: reader, fileIndex: 0, offset: 200, length: 100) { stopped.record($0) }
            }
            _ = try await harness.onLoop { $0.shutdown() }.get()
            try await harness.onLoop { foreman in
                foreman.cancelWaiter(1)
                foreman.cancelWaiter(2)
                foreman.cancelWaiter(3)
            }
            // Every completion is handed to the pool: once it has drained, none is still coming.
            try await harness.threadPool.shutdownGracefully()
            #expect(cancelled.all == [.failure(.cancelled)])
            #expect(timedOut.all == [.failure(.timedOut(file: 0, offset: 16 * 1024, seconds: 30))])
            #expect(stopped.all == [.failure(.shutdown)])
        }
    }
}

extension PeerMessage {
    var isCancel: Bool { cancelledBlock != nil }

    var cancelledBlock: BlockSpec? {
        guard case let .cancel(request) = self else { return nil }
        return BlockSpec(piece: Int(request.piece), begin: Int(request.begin), length: Int(request.length))
    }
}
