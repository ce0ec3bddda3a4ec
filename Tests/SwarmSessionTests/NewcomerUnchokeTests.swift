import NIOCore
import SwarmPieces
@testable import SwarmSession
import SwarmWire
import Testing

/// A peer that joins while an upload slot is free is unchoked with our first messages, before
/// it says it is interested, so that its requests can follow its `interested` at once.
@Suite(.timeLimit(.minutes(1)))
struct NewcomerUnchokeTests {
    static func isUnchoke(_ message: PeerMessage) -> Bool {
        if case .unchoke = message { true } else { false }
    }

    static func isChoke(_ message: PeerMessage) -> Bool {
        if case .choke = message { true } else { false }
    }

    @Test func aJoiningPeerIsUnchokedWithOurFirstMessagesAndServedAtOnce() async throws {
        try await ParkedRequestTests.complete { harness in
            let leecher = try await harness.connectPeer(host: "127.0.0.3")
            let haveAll = try #require(leecher.heardOnJoining.firstIndex { if case .haveAll = $0 { true } else { false } })
            let unchoke = try #require(leecher.heardOnJoining.firstIndex(where: Self.isUnchoke))
            #expect(haveAll < unchoke, "what we have comes first (BEP 6), then the unchoke")

            // Its requests right behind its `interested` are served, with no unchoke in between.
            try await leecher.receive(.interested)
            try await leecher.receive(.request(ParkedRequestTests.request(1)))
            let served = try await ParkedRequestTests.pieces(to: leecher, count: 1)
            #expect(served.map(\.piece) == [1])
            #expect(served.first?.block == harness.block(BlockSpec(piece: 1, begin: 0, length: 16 * 1024)))
        }
    }

    @Test func withNothingToGiveNobodyIsUnchokedOnJoining() async throws {
        try await ForemanHarness.with(pieces: 3) { harness in
            let peer = try await harness.connectPeer(host: "127.0.0.3")
            #expect(!peer.heardOnJoining.contains(where: Self.isUnchoke))
        }
    }

    @Test func aNewcomerGetsOnlyAFreeSlotAndLosesItIfItNeverWantsAnything() async throws {
        try await ParkedRequestTests.complete { harness in
            // The seed that gave us the pieces holds no slot (it is not interested): a choker
            // turn now chokes it, as it would any peer unchoked on joining that stayed quiet.
            try await harness.onLoop { $0.uploader.runChoker(rotateOptimistic: false) }
            // Four regular slots and the optimistic one.
            var joined: [TestPeer] = []
            for index in 0..<6 {
                joined.append(try await harness.connectPeer(host: "127.0.0.\(10 + index)"))
            }
            #expect(joined.prefix(5).allSatisfy { $0.heardOnJoining.contains(where: Self.isUnchoke) })
            #expect(!joined[5].heardOnJoining.contains(where: Self.isUnchoke), "no slot left")

            // Two of them want something; the rest never say so and lose their slots.
            for peer in joined.prefix(2) { try await peer.receive(.interested) }
            try await harness.onLoop { $0.uploader.runChoker(rotateOptimistic: false) }
            for peer in joined.prefix(2) { #expect(!(try await peer.sentMessages()).contains(where: Self.isChoke)) }
            for peer in joined[2..<5] { #expect(try await peer.sentMessages().contains(where: Self.isChoke)) }
        }
    }

    @Test func withUploadOffNobodyIsUnchoked() async throws {
        try await ParkedRequestTests.complete(configure: { $0.uploadEnabled = false }) { harness in
            let leecher = try await harness.connectPeer(host: "127.0.0.3")
            #expect(!leecher.heardOnJoining.contains(where: Self.isUnchoke))
        }
    }
}
