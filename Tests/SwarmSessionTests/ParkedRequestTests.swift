import NIOCore
import SwarmPieces
@testable import SwarmSession
import SwarmWire
import Testing

/// Requests that come while a peer's channel is full wait on the peer and are served once it
/// drains: never dropped without a word (a peer waits for a block or a reject forever).
@Suite(.timeLimit(.minutes(1)))
struct ParkedRequestTests {
    /// A harness whose torrent is complete: a seeding peer gave every piece.
    static func complete(configure: (inout SessionConfiguration) -> Void = { _ in },
                         _ body: (ForemanHarness) async throws -> Void) async throws {
        try await ForemanHarness.with(pieces: 3, configure: configure) { harness in
            let seed = try await harness.connectPeer(host: "127.0.0.2")
            try await seed.receive(.bitfield(harness.allPieces))
            try await seed.receive(.unchoke)
            for spec in try await seed.requests() {
                try await seed.receive(.piece(index: UInt32(spec.piece), begin: UInt32(spec.begin), block: harness.block(spec)))
            }
            try await harness.waitUntil("every piece is verified") { $0.picker.isComplete }
            try await body(harness)
        }
    }

    static func request(_ piece: Int) -> BlockRequest {
        BlockRequest(piece: UInt32(piece), begin: 0, length: 16 * 1024)
    }

    /// Blocks sent to `peer` until `count` arrived (bounded: a broken uploader fails the test).
    static func pieces(to peer: TestPeer, count: Int) async throws -> [(piece: UInt32, block: ByteBuffer)] {
        var pieces: [(piece: UInt32, block: ByteBuffer)] = []
        for _ in 0..<500 where pieces.count < count {
            for message in try await peer.sentMessages() {
                if case let .piece(index, _, block) = message { pieces.append((index, block)) }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return pieces
    }

    /// A leecher we unchoked, whose channel then fills (nothing more can be written to it).
    static func blockedLeecher(of harness: ForemanHarness) async throws -> TestPeer {
        let leecher = try await harness.connectPeer(host: "127.0.0.3")
        try await leecher.receive(.interested)
        // Unchoked on joining (a slot was free), or for its `interested`.
        let heard = leecher.heardOnJoining + (try await leecher.sentMessages())
        #expect(heard.contains { if case .unchoke = $0 { true } else { false } })
        leecher.channel.isWritable = false
        return leecher
    }

    static func drained(_ peer: TestPeer) async throws {
        peer.channel.isWritable = true
        try await peer.channel.eventLoop.submit { peer.channel.pipeline.fireChannelWritabilityChanged() }.get()
    }

    @Test func requestsToAFullChannelWaitAndAreServedOnceItDrains() async throws {
        try await Self.complete { harness in
            let leecher = try await Self.blockedLeecher(of: harness)
            for piece in [2, 0, 1] {
                try await leecher.receive(.request(Self.request(piece)))
            }
            try await harness.waitUntil("three requests wait") { $0.peers[leecher.key]?.parkedRequests.count == 3 }
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await leecher.sentMessages().isEmpty, "nothing is read for a peer that cannot take it")

            try await Self.drained(leecher)
            let served = try await Self.pieces(to: leecher, count: 3)
            // Started in order; the reads finish on the thread pool in any order.
            #expect(served.map(\.piece).sorted() == [0, 1, 2])
            for (piece, block) in served {
                #expect(block == harness.block(BlockSpec(piece: Int(piece), begin: 0, length: 16 * 1024)))
            }
            #expect(try await harness.onLoop { $0.peers[leecher.key]?.parkedRequests.isEmpty } == true)
        }
    }

    @Test func aCancelledWaitingRequestIsNotServed() async throws {
        try await Self.complete { harness in
            let leecher = try await Self.blockedLeecher(of: harness)
            try await leecher.receive(.request(Self.request(0)))
            try await leecher.receive(.request(Self.request(1)))
            try await leecher.receive(.cancel(Self.request(0)))
            try await harness.waitUntil("one request waits") { $0.peers[leecher.key]?.parkedRequests.count == 1 }

            try await Self.drained(leecher)
            let served = try await Self.pieces(to: leecher, count: 1)
            #expect(served.map(\.piece) == [1])
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await leecher.sentMessages().allSatisfy { if case .piece = $0 { false } else { true } })
        }
    }

    @Test func chokingAPeerRejectsWhatWaitsEvenThroughAFullChannel() async throws {
        try await Self.complete { harness in
            let leecher = try await Self.blockedLeecher(of: harness)
            try await leecher.receive(.request(Self.request(0)))
            try await leecher.receive(.request(Self.request(2)))
            try await harness.waitUntil("two requests wait") { $0.peers[leecher.key]?.parkedRequests.count == 2 }
            let key = leecher.key
            try await harness.onLoop { foreman in
                if let peer = foreman.peers[key] { foreman.uploader.choke(peer) }
            }
            let sent = try await leecher.sentMessages()
            let rejected = sent.compactMap { message -> UInt32? in
                if case let .reject(request) = message { request.piece } else { nil }
            }
            // The choke first, then the rejects (a peer told of a reject while unchoked asks again).
            #expect(sent.firstIndex { if case .choke = $0 { true } else { false } } == 0)
            #expect(rejected == [0, 2])
            try await Self.drained(leecher)
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await leecher.sentMessages().allSatisfy { if case .piece = $0 { false } else { true } })
        }
    }
}
