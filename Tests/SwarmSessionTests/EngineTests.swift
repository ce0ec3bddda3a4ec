import Foundation
import Logging
import SwarmMetainfo
import SwarmContent
import SwarmSession
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One engine, several torrents: the listen socket routes each peer to the torrent its handshake
/// names, and torrents come and go while the engine runs.
@Suite(.timeLimit(.minutes(2)))
struct EngineTests {
    typealias Fixture = SessionLoopbackTests.Fixture

    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    private func seeding(_ fixture: Fixture) -> SessionConfiguration {
        var configuration = SessionConfiguration(cacheDirectory: fixture.seedDirectory)
        configuration.useTrackers = false
        return configuration
    }

    @Test func oneListenSocketServesTwoTorrents() async throws {
        let first = try Fixture(size: 700_000, pieceLength: 32 * 1024)
        let second = try Fixture(size: 500_000, pieceLength: 16 * 1024)
        let seeds = try await SwarmEngine.start(configuration: .loopback, logger: Self.logger)
        let leeches = try await SwarmEngine.start(configuration: .loopback, logger: Self.logger)
        do {
            _ = try await seeds.add(first.metainfo, configuration: seeding(first), logger: Self.logger)
            _ = try await seeds.add(second.metainfo, configuration: seeding(second), logger: Self.logger)
            for fixture in [first, second] {
                var configuration = SessionConfiguration(cacheDirectory: fixture.directory("leech"))
                configuration.useTrackers = false
                configuration.peers = ["127.0.0.1:\(seeds.listenPort)"]
                let leech = try await leeches.add(fixture.metainfo, configuration: configuration, logger: Self.logger)
                try await leech.waitUntilComplete()
            }
        } catch {
            await leeches.shutdown()
            await seeds.shutdown()
            throw error
        }
        await leeches.shutdown()
        await seeds.shutdown()
        for fixture in [first, second] {
            let downloaded = try Data(contentsOf: URL(fileURLWithPath: fixture.directory("leech") + "/data.bin"))
            #expect(Array(downloaded) == fixture.payload)
        }
    }

    @Test func aPeerForATorrentWeDoNotRunIsDroppedAfterItsHandshake() async throws {
        let fixture = try Fixture(size: 100_000, pieceLength: 16 * 1024)
        let engine = try await SwarmEngine.start(configuration: .loopback, logger: Self.logger)
        _ = try await engine.add(fixture.metainfo, configuration: seeding(fixture), logger: Self.logger)
        let unknown = try #require(InfoHash(bytes: [UInt8](repeating: 7, count: 20)))
        let refused = RawPeer.handshake(port: engine.listenPort, infoHash: unknown)
        let accepted = RawPeer.handshake(port: engine.listenPort, infoHash: fixture.metainfo.infoHash)
        await engine.shutdown()
        #expect(refused.isEmpty, "a handshake for a torrent we do not run got \(refused.count) bytes back")
        #expect(accepted.count >= 68 && accepted.first == 19, "the torrent we run did not answer its handshake")
        #expect(Array(accepted.dropFirst(28).prefix(20)) == fixture.metainfo.infoHash.bytes)
    }

    @Test func removingATorrentFailsItsReadsAndStopsRoutingIt() async throws {
        let fixture = try Fixture(size: 200_000, pieceLength: 16 * 1024)
        let engine = try await SwarmEngine.start(configuration: .loopback, logger: Self.logger)
        var configuration = SessionConfiguration(cacheDirectory: fixture.directory("empty"))
        configuration.useTrackers = false
        let session = try await engine.add(fixture.metainfo, configuration: configuration, logger: Self.logger)
        // No peer has it: the read can only end through the removal.
        let (outcomes, outcome) = AsyncStream.makeStream(of: Result<ReadableSpan, ContentReadError>.self)
        _ = session.read(session.openReader(fileIndex: 0), fileIndex: 0, offset: 0, length: 1000) {
            outcome.yield($0)
            outcome.finish()
        }
        await engine.remove(fixture.metainfo.infoHash)
        let result = await outcomes.first { _ in true }
        guard case .failure(.shutdown)? = result else {
            Issue.record("the waiting read ended with \(result), not .shutdown")
            await engine.shutdown()
            return
        }
        #expect(engine.runningTorrents.isEmpty)
        let afterRemoval = RawPeer.handshake(port: engine.listenPort, infoHash: fixture.metainfo.infoHash)
        #expect(afterRemoval.isEmpty, "a removed torrent still answered a handshake")
        // Its cache is released: the same torrent can be added again at once.
        let again = try await engine.add(fixture.metainfo, configuration: configuration, logger: Self.logger)
        #expect(again.statusSnapshot().infoHash == fixture.metainfo.infoHash.hex)
        await engine.shutdown()
    }

    @Test func aTorrentRunsOnceAnEngine() async throws {
        let fixture = try Fixture(size: 50_000, pieceLength: 16 * 1024)
        let engine = try await SwarmEngine.start(configuration: .loopback, logger: Self.logger)
        _ = try await engine.add(fixture.metainfo, configuration: seeding(fixture), logger: Self.logger)
        await #expect(throws: SessionError.self) {
            var elsewhere = SessionConfiguration(cacheDirectory: fixture.directory("other"))
            elsewhere.useTrackers = false
            _ = try await engine.add(fixture.metainfo, configuration: elsewhere, logger: Self.logger)
        }
        #expect(engine.runningTorrents.count == 1)
        await engine.shutdown()
    }
}

/// A peer made of a blocking socket: sends a handshake, returns every byte the engine sends back
/// until it closes the connection or is silent for two seconds after answering.
enum RawPeer {
    static func handshake(port: UInt16, infoHash: InfoHash) -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return [] }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let message: [UInt8] = [19] + Array("BitTorrent protocol".utf8) + [UInt8](repeating: 0, count: 8)
            + infoHash.bytes + Array("-XX0001-123456789012".utf8)
        guard send(fd, message, message.count, 0) == message.count else { return [] }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.count < 68 {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            received += buffer[0..<count]
        }
        return received
    }
}
