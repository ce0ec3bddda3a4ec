import ArgumentParser
import Foundation
import Logging
import SwarmMetainfo
import SwarmSession
import SwarmStorage

/// `swarmfs download`: the engine without FUSE. Fetches and verifies every piece into DIR.
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a whole torrent into a directory, verifying every piece.",
        discussion: """
            DIR gets the torrent's own layout (DIR/<name>). Running the same command again resumes; \
            data already in DIR (from any client) is checked and kept. Exits 0 when every piece is verified.
            """)

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Option(name: .shortAndLong, help: "Where to put the files (default: the swarmfs cache for this torrent).")
    var output: String?

    @Option(name: .long, help: "Connect to this peer directly (HOST:PORT; repeatable).")
    var peer: [String] = []

    @Option(name: .long, help: "The most peer connections at once.")
    var maxPeers: Int = 50

    @Option(name: .long, help: "TCP port to accept peers on (default: a free one in 6881-6889).")
    var listenPort: UInt16?

    @Option(name: .long, help: "Address to listen on and to connect from.")
    var listenHost: String = "0.0.0.0"

    @Flag(name: .long, help: "Do not contact the torrent's trackers (use --peer).")
    var noTrackers = false

    @Flag(name: .long, help: "Never upload to other peers.")
    var noUpload = false

    @OptionGroup var rates: RateOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard maxPeers > 0 else { throw ValidationError("--max-peers must be at least 1") }
    }

    func run() async throws {
        try await CLIError.reporting { try await execute() }
    }

    private func execute() async throws {
        let metainfo = try loadTorrent(torrent)
        let logger = try logging.bootstrap()
        let directory = output ?? CacheRoot.directory(root: CacheRoot.defaultPath(), infoHash: metainfo.infoHash)
        var configuration = SessionConfiguration(cacheDirectory: directory)
        configuration.peers = peer
        configuration.maxPeers = maxPeers
        configuration.listenPort = listenPort
        configuration.listenHost = listenHost
        configuration.useTrackers = !noTrackers
        rates.apply(to: &configuration)
        configuration.uploadEnabled = !noUpload
        configuration.downloadMode = DownloadMode.all

        let session: TorrentSession
        do {
            session = try await TorrentSession.start(metainfo: metainfo, configuration: configuration, logger: logger)
        } catch {
            throw CLIError.runtime("\(torrent): \(error)")
        }
        let interrupted = SignalWatcher.watchTermination()
        let progress = ProgressReporter(session: session)
        progress.start()

        let outcome = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await session.waitUntilComplete()
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                await interrupted.wait()
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            // Waiting for completion is not cancellable; shutting down ends it.
            if !first { await session.shutdown() }
            return first
        }
        interrupted.stop()
        await session.shutdown()
        progress.stop(final: outcome)
        if !outcome {
            FileHandle.standardError.write(Data("swarmfs: download of \(metainfo.name) interrupted; run the same command again to resume\n".utf8))
            throw ExitCode(1)
        }
    }
}
