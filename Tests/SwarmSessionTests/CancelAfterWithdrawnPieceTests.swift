import Foundation
import Logging
import SwarmContent
import SwarmMetainfo
@testable import SwarmSession
import Synchronization
import Testing

/// Issue 11, item 4: a read whose piece is withdrawn from readers (an eviction's first step)
/// between the Foreman's check and the reply on the pool goes back to wait. It must keep the id
/// its `ReadTicket` cancels; when it was re-queued under a fresh internal id, a cancel after
/// that race (Ctrl+C, a killed reader) was lost and the reader waited forever.
@Suite(.timeLimit(.minutes(1)))
struct CancelAfterWithdrawnPieceTests {
    /// Every result a read's completion received, in order (a read must be answered exactly once).
    final class Outcomes: Sendable {
        private let results = Mutex<[Result<ReadableSpan, ContentReadError>]>([])

        func record(_ result: Result<ReadableSpan, ContentReadError>) {
            results.withLock { $0.append(result) }
        }

        var all: [Result<ReadableSpan, ContentReadError>] { results.withLock { $0 } }

        /// The first result, polled until `limit` passes: a lost read must fail the test, never
        /// hang it.
        func first(within limit: Duration) async -> Result<ReadableSpan, ContentReadError>? {
            let deadline = ContinuousClock.now + limit
            while ContinuousClock.now < deadline {
                if let first = all.first { return first }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return all.first
        }
    }

    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    @Test func cancelReachesAReadWhosePieceWasWithdrawnBeforeItsReply() async throws {
        let pieceLength = 16 * 1024
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swarmfs-cancel-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let file = root.appendingPathComponent("data.bin")
        var generator = SystemRandomNumberGenerator()
        try Data((0..<(4 * pieceLength)).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: file)
        var options = TorrentBuilder.Options()
        options.pieceLength = pieceLength
        let metainfo = try Metainfo(bytes: TorrentBuilder(path: file.path, options: options).build())
        // A session over a complete cache and no peers: nothing but this test changes its pieces,
        // so the only way the read below can end is through its ticket (or the shutdown).
        var configuration = SessionConfiguration(cacheDirectory: root.path)
        configuration.useTrackers = false
        let session = try await TorrentSession.start(metainfo: metainfo, configuration: configuration,
                                              engineConfiguration: .loopback, logger: Self.logger)
        // From here on nothing throws, so the session is shut down on every path below.

        // What an eviction does first: the gate stops serving the piece while the Foreman still
        // holds it as verified. Every reply of a read of it now fails to pin it on the pool and
        // goes back to the loop to wait, which sees the piece as present and serves it again:
        // the read keeps crossing the very race the defect needed, loop to pool and back.
        let piece = 2
        #expect(session.verified.withdraw(piece))
        let reader = session.openReader(fileIndex: 0)
        let outcomes = Outcomes()
        let ticket = session.read(reader, fileIndex: 0, offset: Int64(piece * pieceLength) + 100, length: 1000) {
            outcomes.record($0)
        }
        // Let it go round a few times, so that the cancel comes after the read was re-queued.
        try? await Task.sleep(for: .milliseconds(100))
        #expect(outcomes.all.isEmpty, "the read was answered although its piece is withdrawn: \(outcomes.all)")
        ticket.cancel()
        let result = await outcomes.first(within: .seconds(5))
        if result == nil {
            Issue.record("cancel lost: the read was not completed within 5 s of its ticket's cancel")
        } else {
            #expect(result == .failure(.cancelled))
        }

        // Serve the piece again, so that a read whose cancel was lost ends (with its bytes)
        // instead of going round until the shutdown.
        session.verified.insert(piece)
        session.closeReader(reader)
        await session.shutdown()
        #expect(outcomes.all.count == 1, "a read must be answered exactly once: \(outcomes.all)")
    }
}
