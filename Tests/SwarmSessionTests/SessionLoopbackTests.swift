import Foundation
import Logging
import SwarmContent
import SwarmMetainfo
import SwarmSession
import Synchronization
import Testing

/// Two real sessions on loopback: one seeds a folder, the other downloads or reads from it.
/// Exercises the whole engine (wire, picker, storage, upload) in-process.
@Suite(.timeLimit(.minutes(2)))
struct SessionLoopbackTests {
    /// A temporary folder with `data.bin` of pseudo-random bytes, and a torrent of it.
    final class Fixture {
        let root: URL
        let payload: [UInt8]
        let metainfo: Metainfo

        init(size: Int, pieceLength: Int) throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("swarmfs-session-\(UUID().uuidString)")
            let seedDirectory = root.appendingPathComponent("seed")
            try FileManager.default.createDirectory(at: seedDirectory, withIntermediateDirectories: true)
            var generator = SystemRandomNumberGenerator()
            payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try Data(payload).write(to: seedDirectory.appendingPathComponent("data.bin"))
            var options = TorrentBuilder.Options()
            options.pieceLength = pieceLength
            let bytes = try TorrentBuilder(path: seedDirectory.appendingPathComponent("data.bin").path, options: options).build()
            metainfo = try Metainfo(bytes: bytes)
        }

        var seedDirectory: String { root.appendingPathComponent("seed").path }
        func directory(_ name: String) -> String { root.appendingPathComponent(name).path }

        deinit { try? FileManager.default.removeItem(at: root) }
    }

    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    private func seeder(_ fixture: Fixture) async throws -> TorrentSession {
        var configuration = SessionConfiguration(cacheDirectory: fixture.seedDirectory)
        configuration.useTrackers = false
        return try await TorrentSession.start(metainfo: fixture.metainfo, configuration: configuration,
                                              engineConfiguration: .loopback, logger: Self.logger)
    }

    private func leecher(_ fixture: Fixture, from seeder: TorrentSession, mode: DownloadMode,
                         directory: String) async throws -> TorrentSession {
        var configuration = SessionConfiguration(cacheDirectory: directory)
        configuration.useTrackers = false
        configuration.downloadMode = mode
        configuration.peers = ["127.0.0.1:\(seeder.listenPort)"]
        return try await TorrentSession.start(metainfo: fixture.metainfo, configuration: configuration,
                                              engineConfiguration: .loopback, logger: Self.logger)
    }

    /// A session with no peers at all: its reads can only end by cancellation, time-out or shutdown.
    private func isolated(_ fixture: Fixture, _ name: String, readTimeout: Duration? = nil) async throws -> TorrentSession {
        var configuration = SessionConfiguration(cacheDirectory: fixture.directory(name))
        configuration.useTrackers = false
        configuration.readTimeout = readTimeout
        return try await TorrentSession.start(metainfo: fixture.metainfo, configuration: configuration,
                                              engineConfiguration: .loopback, logger: Self.logger)
    }

    @Test func seedingSessionServesADownloadingOne() async throws {
        let fixture = try Fixture(size: 3 * 1024 * 1024 + 1234, pieceLength: 64 * 1024)
        let seed = try await seeder(fixture)
        #expect(seed.statusSnapshot().verifiedPieces == fixture.metainfo.layout.pieceCount)
        let leech = try await leecher(fixture, from: seed, mode: .all, directory: fixture.directory("leech"))
        try await leech.waitUntilComplete()
        let status = leech.statusSnapshot()
        await leech.shutdown()
        await seed.shutdown()
        let downloaded = try Data(contentsOf: URL(fileURLWithPath: fixture.directory("leech") + "/data.bin"))
        #expect(Array(downloaded) == fixture.payload)
        #expect(status.verifiedBytes == Int64(fixture.payload.count))
        #expect(status.downloadedBytes >= Int64(fixture.payload.count))
    }

    @Test func onDemandReadFetchesOnlyWhatItCovers() async throws {
        let fixture = try Fixture(size: 4 * 1024 * 1024, pieceLength: 64 * 1024)
        let seed = try await seeder(fixture)
        let leech = try await leecher(fixture, from: seed, mode: .onDemand, directory: fixture.directory("leech"))
        let reader = leech.openReader(fileIndex: 0)
        let offset: Int64 = 2 * 1024 * 1024 + 100
        let length = 200_000
        // The bytes are copied inside the completion: a span in memory lives only that long.
        let result: Result<[UInt8]?, ContentReadError> = await withCheckedContinuation { continuation in
            _ = leech.read(reader, fileIndex: 0, offset: offset, length: length) {
                continuation.resume(returning: $0.map { $0.copyBytes() })
            }
        }
        let bytes = try #require(try result.get())
        #expect(bytes.count == length)
        #expect(bytes == Array(fixture.payload[Int(offset)..<(Int(offset) + length)]))
        leech.closeReader(reader)
        let status = leech.statusSnapshot()
        await leech.shutdown()
        await seed.shutdown()
        // The read, its readahead window (which may reach the end of this small file) and the
        // file's first and last pieces; nothing else before the read.
        #expect(status.verifiedBytes <= Int64(fixture.payload.count) - offset + 64 * 1024 * 2)
    }

    /// A read inside one piece is answered from the piece's memory by the job that verified it,
    /// before the piece is written; a read spanning pieces still comes from the cache file.
    @Test func aReadInsideOnePieceIsAnsweredFromTheVerifiedPiece() async throws {
        let fixture = try Fixture(size: 1024 * 1024, pieceLength: 64 * 1024)
        let seed = try await seeder(fixture)
        let leech = try await leecher(fixture, from: seed, mode: .onDemand, directory: fixture.directory("leech"))
        let reader = leech.openReader(fileIndex: 0)
        for (offset, length, inMemory) in [(Int64(5 * 65_536 + 7), 4_000, true), (Int64(9 * 65_536 - 100), 300, false)] {
            let result: Result<(bytes: [UInt8]?, inMemory: Bool), ContentReadError> = await withCheckedContinuation { continuation in
                _ = leech.read(reader, fileIndex: 0, offset: offset, length: length) {
                    continuation.resume(returning: $0.map { ($0.copyBytes(), $0.memory != nil) })
                }
            }
            let (bytes, wasInMemory) = try result.get()
            #expect(bytes == Array(fixture.payload[Int(offset)..<(Int(offset) + length)]), "read at \(offset)")
            #expect(wasInMemory == inMemory, "read at \(offset)")
        }
        leech.closeReader(reader)
        await leech.shutdown()
        await seed.shutdown()
    }

    @Test func cancelledReadCompletesOnceWithCancelled() async throws {
        let fixture = try Fixture(size: 256 * 1024, pieceLength: 16 * 1024)
        let session = try await isolated(fixture, "lonely")
        let calls = Mutex(0)
        let result: Result<ReadableSpan, ContentReadError> = await withCheckedContinuation { continuation in
            let ticket = session.read(session.openReader(fileIndex: 0), fileIndex: 0, offset: 0, length: 4096) { result in
                let first = calls.withLock { calls in
                    calls += 1
                    return calls == 1
                }
                if first { continuation.resume(returning: result) }
            }
            ticket.cancel()
            ticket.cancel()
        }
        #expect(result == .failure(.cancelled))
        await session.shutdown()
        #expect(calls.withLock { $0 } == 1)
    }

    @Test func readTimeoutAnswersWithTimedOut() async throws {
        let fixture = try Fixture(size: 64 * 1024, pieceLength: 16 * 1024)
        let session = try await isolated(fixture, "timeout", readTimeout: .milliseconds(200))
        let result: Result<ReadableSpan, ContentReadError> = await withCheckedContinuation { continuation in
            _ = session.read(session.openReader(fileIndex: 0), fileIndex: 0, offset: 0, length: 10) { continuation.resume(returning: $0) }
        }
        guard case .failure(.timedOut) = result else {
            Issue.record("expected a time-out, got \(result)")
            return
        }
        await session.shutdown()
    }

    @Test func shutdownFailsPendingReads() async throws {
        let fixture = try Fixture(size: 64 * 1024, pieceLength: 16 * 1024)
        let session = try await isolated(fixture, "shutdown")
        async let result: Result<ReadableSpan, ContentReadError> = withCheckedContinuation { continuation in
            _ = session.read(session.openReader(fileIndex: 0), fileIndex: 0, offset: 0, length: 10) { continuation.resume(returning: $0) }
        }
        try await Task.sleep(for: .milliseconds(100))
        await session.shutdown()
        #expect(await result == .failure(.shutdown))
    }

    @Test func secondSessionOnTheSameCacheIsRefused() async throws {
        let fixture = try Fixture(size: 64 * 1024, pieceLength: 16 * 1024)
        let first = try await seeder(fixture)
        await #expect(throws: SessionError.self) {
            _ = try await seeder(fixture)
        }
        await first.shutdown()
    }
}
