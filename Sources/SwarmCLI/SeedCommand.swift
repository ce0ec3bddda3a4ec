import ArgumentParser
import Foundation
import SwarmMetainfo
import SwarmSession
import SwarmStorage

/// `swarmfs seed`: serves a verified cache to other peers without mounting it.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Upload a torrent's verified data to other peers until interrupted.",
        discussion: "Pieces missing from DIR are downloaded as well, so a partial cache becomes a full seed.")

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Option(name: [.long, .customLong("data")], help: "The directory holding the torrent's files (default: the swarmfs cache).")
    var cacheDir: String?

    @OptionGroup var peers: PeerOptions

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await CLIError.reporting { try await execute() }
    }

    private func execute() async throws {
        let metainfo = try loadTorrent(torrent)
        let logger = try logging.bootstrap()
        var configuration = SessionConfiguration(cacheDirectory: cacheDir ?? CacheRoot.directory(root: CacheRoot.defaultPath(), infoHash: metainfo.infoHash))
        var engine = EngineConfiguration()
        peers.apply(to: &configuration, engine: &engine)
        let session = try await startSession(metainfo, configuration: configuration, engine: engine, logger: logger,
                                             torrentPath: torrent)
        let interrupted = SignalWatcher.watchTermination()
        let progress = ProgressReporter(session: session)
        progress.start()
        await interrupted.wait()
        interrupted.stop()
        await session.shutdown()
        progress.stop(final: true)
    }
}
