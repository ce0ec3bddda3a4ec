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

    @Argument(help: "The .torrent file, or a magnet link.")
    var torrent: String

    @Option(name: .shortAndLong, help: "Where to put the files (default: the swarmfs cache for this torrent).")
    var output: String?

    @OptionGroup var peers: PeerOptions

    @Flag(name: .long, help: "Never upload to other peers.")
    var noUpload = false

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await CLIError.reporting { try await execute() }
    }

    private func execute() async throws {
        // A .torrent file is read (and refused if bad) before anything else happens.
        let source = try LoadedTorrent.load(torrent)
        let logger = try logging.bootstrap()
        let infoHash = source.infoHash
        let directory = output ?? CacheRoot.directory(root: CacheRoot.defaultPath(), infoHash: infoHash)
        var configuration = SessionConfiguration(cacheDirectory: directory)
        var engine = EngineConfiguration()
        peers.apply(to: &configuration, engine: &engine)
        configuration.uploadEnabled = !noUpload
        configuration.downloadMode = DownloadMode.all

        let session: TorrentSession
        switch source {
        case let .magnet(magnet):
            session = try await startMagnetSession(magnet, configuration: configuration, engine: engine, logger: logger)
        case let .metainfo(metainfo):
            session = try await startSession(metainfo, configuration: configuration, engine: engine, logger: logger,
                                             torrentPath: torrent)
        }
        let name = session.metainfo.name
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
            FileHandle.standardError.write(Data("swarmfs: download of \(name) interrupted; run the same command again to resume\n".utf8))
            throw ExitCode(1)
        }
    }
}
