import Foundation
import Logging
import SwarmMetainfo
import SwarmSession
import Synchronization
import Testing

/// The engine's DHT node on its UDP socket, between two engines on loopback: a node named by a
/// peer (`dhtAddNode`) joins both tables, a lookup finds the peer the other engine announced,
/// and the API is inert when DHT is off.
@Suite(.timeLimit(.minutes(1)))
struct EngineDHTTests {
    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    static func dhtEngine() async throws -> SwarmEngine {
        var configuration = EngineConfiguration.loopback
        configuration.dht.enabled = true
        configuration.dht.bootstrap = []
        configuration.dht.stateRoot = nil
        return try await SwarmEngine.start(configuration: configuration, logger: logger)
    }

    @Test func twoEnginesMeetAndFindEachOthersAnnounce() async throws {
        let first = try await Self.dhtEngine()
        let second = try await Self.dhtEngine()
        do {
            let port = try #require(second.dhtPort)
            #expect(port == second.listenPort, "the UDP port takes the TCP port's number when free")
            first.dhtAddNode(host: "127.0.0.1", port: port)
            // Both tables gain the other within a few ticks (the figure is refreshed every 250 ms).
            for _ in 0..<40 where first.dhtNodeCount != 1 || second.dhtNodeCount != 1 {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(first.dhtNodeCount == 1 && second.dhtNodeCount == 1)

            let infoHash = try #require(InfoHash(bytes: [UInt8](repeating: 0xab, count: 20)))
            await second.dhtLookup(infoHash, announcePort: 4242) { _ in }
            let found = Mutex<[PeerAddress]>([])
            await first.dhtLookup(infoHash, announcePort: nil) { peers in found.withLock { $0 += peers } }
            #expect(found.withLock { $0 } == [PeerAddress(host: "127.0.0.1", port: 4242)])
        } catch {
            await first.shutdown()
            await second.shutdown()
            throw error
        }
        await first.shutdown()
        await second.shutdown()
    }

    @Test func dhtOffIsInert() async throws {
        let engine = try await SwarmEngine.start(configuration: .loopback, logger: Self.logger)
        #expect(engine.dhtPort == nil && engine.dhtNodeCount == nil)
        engine.dhtAddNode(host: "127.0.0.1", port: 1)
        let infoHash = try #require(InfoHash(bytes: [UInt8](repeating: 2, count: 20)))
        await engine.dhtLookup(infoHash, announcePort: 1) { _ in Issue.record("no peers without DHT") }
        await engine.shutdown()
    }
}
