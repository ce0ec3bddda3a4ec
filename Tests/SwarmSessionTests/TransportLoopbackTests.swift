import Foundation
import Logging
import SwarmSession
import Testing

/// Two real engines on loopback, each transport alone and both: uTP only (TCP off on both sides:
/// the seeder's announced port is then its UDP one), TCP only, and the default (uTP first).
@Suite(.timeLimit(.minutes(2)))
struct TransportLoopbackTests {
    static func engine(utp: Bool, tcp: Bool) -> EngineConfiguration {
        var configuration = EngineConfiguration.loopback
        configuration.utp = utp
        configuration.tcp = tcp
        return configuration
    }

    @Test("a download is byte-exact over each transport", arguments: [(true, false), (false, true), (true, true)])
    func download(utp: Bool, tcp: Bool) async throws {
        let fixture = try SessionLoopbackTests.Fixture(size: 2 * 1024 * 1024 + 77, pieceLength: 64 * 1024)
        var seedConfiguration = SessionConfiguration(cacheDirectory: fixture.seedDirectory)
        seedConfiguration.useTrackers = false
        let seed = try await TorrentSession.start(metainfo: fixture.metainfo, configuration: seedConfiguration,
                                                  engineConfiguration: Self.engine(utp: utp, tcp: tcp),
                                                  logger: SessionLoopbackTests.logger)
        #expect(seed.listenPort != 0)
        var leechConfiguration = SessionConfiguration(cacheDirectory: fixture.directory("leech"))
        leechConfiguration.useTrackers = false
        leechConfiguration.peers = ["127.0.0.1:\(seed.listenPort)"]
        let leech = try await TorrentSession.start(metainfo: fixture.metainfo, configuration: leechConfiguration,
                                                   engineConfiguration: Self.engine(utp: utp, tcp: tcp),
                                                   logger: SessionLoopbackTests.logger)
        try await leech.waitUntilComplete()
        await leech.shutdown()
        await seed.shutdown()
        let downloaded = try Data(contentsOf: URL(fileURLWithPath: fixture.directory("leech") + "/data.bin"))
        #expect(Array(downloaded) == fixture.payload)
    }

    @Test("uTP alone does not reach a TCP-only peer, and TCP alone not a uTP-only one")
    func transportsDoNotMix() async throws {
        let fixture = try SessionLoopbackTests.Fixture(size: 256 * 1024, pieceLength: 64 * 1024)
        for (seedUTP, leechUTP) in [(false, true), (true, false)] {
            var seedConfiguration = SessionConfiguration(cacheDirectory: fixture.seedDirectory)
            seedConfiguration.useTrackers = false
            let seed = try await TorrentSession.start(metainfo: fixture.metainfo, configuration: seedConfiguration,
                                                      engineConfiguration: Self.engine(utp: seedUTP, tcp: !seedUTP),
                                                      logger: SessionLoopbackTests.logger)
            var leechConfiguration = SessionConfiguration(cacheDirectory: fixture.directory("leech-\(leechUTP)"))
            leechConfiguration.useTrackers = false
            leechConfiguration.peers = ["127.0.0.1:\(seed.listenPort)"]
            let leech = try await TorrentSession.start(metainfo: fixture.metainfo, configuration: leechConfiguration,
                                                       engineConfiguration: Self.engine(utp: leechUTP, tcp: !leechUTP),
                                                       logger: SessionLoopbackTests.logger)
            // Past the uTP connect timeout (1.5 s) and a redial: nothing arrives.
            try await Task.sleep(for: .seconds(3))
            let status = leech.statusSnapshot()
            await leech.shutdown()
            await seed.shutdown()
            #expect(status.verifiedBytes == 0)
            #expect(status.peers == 0)
        }
    }
}
