import NIOCore
import SwarmContent
import SwarmPieces
@testable import SwarmSession
import Testing

/// What follows a read that waited: background fill stays off while the reader reads on.
@Suite struct WaitedReadFollowUpTests {
    private static let pieceLength = 64 * 1024

    @Test func backgroundFillStaysHeldForAMomentAfterAWaitEnds() async throws {
        try await ForemanHarness.with(pieces: 8, pieceLength: Self.pieceLength) { harness in
            let peer = try await harness.connectPeer()
            try await peer.receive(.bitfield(harness.allPieces))
            _ = try await peer.sentMessages()
            let reader = ReaderID(rawValue: 1)
            try await harness.onLoop { foreman in
                foreman.openReader(reader, fileIndex: 0)
                foreman.addWaiter(id: 1, reader: reader, fileIndex: 0, offset: Int64(7 * Self.pieceLength), length: 4096) { _ in }
            }
            // The seeder unchokes with an empty queue: its first batch is the waited piece.
            try await peer.receive(.unchoke)
            let waited = try await peer.requests()
            #expect(!waited.isEmpty && waited.allSatisfy { $0.piece == 7 }, "\(waited)")
            // The wait lasts longer than the hold (a long link): the piece lands 400 ms later.
            harness.clock.advance(by: .milliseconds(400))
            for spec in waited {
                try await peer.receive(.piece(index: UInt32(spec.piece), begin: UInt32(spec.begin), block: harness.block(spec)))
            }
            try await harness.waitUntil("piece 7 verified") { $0.picker.hasPiece(7) }
            // 100 ms after the wait ended the reader may read on: background (pieces 0-6) still waits.
            harness.clock.advance(by: .milliseconds(100))
            try await harness.onLoop { $0.tick() }
            #expect(try await peer.requests().isEmpty)
            // Once the hold is over after the wait's end, background fill resumes.
            harness.clock.advance(by: .milliseconds(250))
            try await harness.onLoop { $0.tick() }
            #expect(!(try await peer.requests()).isEmpty)
        }
    }
}
