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

    @Option(name: .long, help: "TCP port to accept peers on (default: a free one in 6881-6889).")
    var listenPort: UInt16?

    @Option(name: .long, help: "Address to listen on and to connect from.")
    var listenHost: String = "0.0.0.0"

    @Option(name: .long, help: "Connect to this peer directly (HOST:PORT; repeatable).")
    var peer: [String] = []

    @Option(name: .long, help: "The most peer connections at once.")
    var maxPeers: Int = 50

    @Flag(name: .long, help: "Do not contact the torrent's trackers.")
    var noTrackers = false

    @OptionGroup var rates: RateOptions

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await CLIError.reporting { try await execute() }
    }

    private func execute() async throws {
        let metainfo = try loadTorrent(torrent)
        let logger = try logging.bootstrap()
        var configuration = SessionConfiguration(cacheDirectory: cacheDir ?? CacheRoot.directory(root: CacheRoot.defaultPath(), infoHash: metainfo.infoHash))
        configuration.listenPort = listenPort
        configuration.listenHost = listenHost
        configuration.peers = peer
        configuration.maxPeers = maxPeers
        configuration.useTrackers = !noTrackers
        rates.apply(to: &configuration)
        let session: TorrentSession
        do {
            session = try await TorrentSession.start(metainfo: metainfo, configuration: configuration, logger: logger)
        } catch {
            throw CLIError.runtime("\(torrent): \(error)")
        }
        let interrupted = SignalWatcher.watchTermination()
        let progress = ProgressReporter(session: session)
        progress.start()
        await interrupted.wait()
        interrupted.stop()
        await session.shutdown()
        progress.stop(final: true)
    }
}
