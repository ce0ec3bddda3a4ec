import ArgumentParser
import Foundation
import Logging
import SwarmContent
import SwarmFS
import SwarmFUSE
import SwarmHTTP
import SwarmLibrary
import SwarmMetainfo
import SwarmSession
import SwarmStorage

/// `swarmfs serve TORRENT|MAGNET|DIR --http [HOST:]PORT`: the HTTP server without a mount, until
/// SIGINT or SIGTERM. A folder is served as a library (every *.torrent and *.magnet in it,
/// followed as it changes), exactly as `mount DIR` would show it.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a torrent, or a folder of torrents, over HTTP without mounting it.",
        discussion: """
            GET / is a web page listing the torrents with a player; /t/INFOHASH/PATH streams a file \
            (Range requests, as players seek); /t/INFOHASH.m3u and /playlist.m3u are playlists; \
            /status.json is the status of each torrent. A read of data not yet downloaded waits for it. \
            Runs until interrupted (Ctrl+C or SIGTERM).
            """)

    @Argument(help: "The .torrent file, a magnet link, or a folder of .torrent and .magnet files (a library).")
    var source: String

    @Option(name: .long, help: ArgumentHelp(HTTPAddress.help, valueName: "[HOST:]PORT"))
    var http: String

    @Option(name: .long, help: "Where the torrent's files are kept (default: $XDG_CACHE_HOME/swarmfs/<info-hash>; for a folder, the cache root).")
    var cacheDir: String?

    @Option(name: .long, help: "all (read first, then the rest in order), on-demand (only what is read), or none (serve a complete cache).")
    var download: String = DownloadMode.all.rawValue

    @Option(name: .long, help: "Fail a read (503/504) when its data takes longer than this many seconds.")
    var readTimeout: Double?

    @Flag(name: .long, help: "Never upload to other peers.")
    var noUpload = false

    @OptionGroup var peers: PeerOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard HTTPAddress.parse(http) != nil else { throw ValidationError("--http '\(http)' is not [HOST:]PORT") }
        guard download == "none" || DownloadMode(rawValue: download) != nil else {
            throw ValidationError("--download must be all, on-demand or none, not '\(download)'")
        }
        if let readTimeout, !(readTimeout > 0 && readTimeout.isFinite) {
            throw ValidationError("--read-timeout must be a positive number of seconds")
        }
    }

    func run() async throws {
        try await CLIError.reporting { try await execute() }
    }

    private func execute() async throws(CLIError) {
        guard let address = HTTPAddress.parse(http) else { throw .badInput("--http '\(http)' is not [HOST:]PORT") }
        let logger: Logger
        do {
            logger = try logging.bootstrap(label: "swarmfs.serve")
        } catch {
            throw .badInput("\(error)")
        }
        let served: Served
        if TorrentReference.isMagnet(source) {
            served = try await startTorrent(source, logger: logger)
        } else {
            let path = PathTools.absolute(source)
            served = LibraryMountDaemon.isLibrary(path)
                ? try await startLibrary(path, logger: logger)
                : try await startTorrent(path, logger: logger)
        }
        let interrupted = SignalWatcher.watchTermination()
        let server: HTTPServer
        do throws(HTTPServerError) {
            server = try await HTTPServer.start(catalog: served.catalog, configuration: address.configuration, logger: logger)
        } catch {
            interrupted.stop()
            await served.stop()
            throw .runtime(error.description)
        }
        // The one line a script waits for: where the server answers.
        FileHandle.standardOutput.write(Data("serving http://\(server.authority)/\n".utf8))
        await interrupted.wait()
        interrupted.stop()
        await server.stop()
        await served.stop()
    }

    /// What is served and how to stop it.
    private struct Served {
        let catalog: any HTTPCatalog
        let stop: @Sendable () async -> Void
    }


    private func sessionConfiguration(cacheDirectory: String) -> (SessionConfiguration, EngineConfiguration) {
        var configuration = SessionConfiguration(cacheDirectory: cacheDirectory)
        var engine = EngineConfiguration()
        peers.apply(to: &configuration, engine: &engine)
        configuration.downloadMode = DownloadMode(rawValue: download) ?? .all
        configuration.readTimeout = readTimeout.map { .milliseconds(DisplayFigures.clampedInt64($0 * 1000)) }
        configuration.uploadEnabled = !noUpload
        return (configuration, engine)
    }

    /// One torrent, from a .torrent file or a magnet link (its metadata fetched from peers
    /// first, or read from the cache when an earlier run stored it).
    private func startTorrent(_ reference: String, logger: Logger) async throws(CLIError) -> Served {
        let loaded = try LoadedTorrent.load(reference)
        let cacheDirectory = cacheDir.map(PathTools.absolute)
            ?? CacheRoot.directory(root: CacheRoot.defaultPath(), infoHash: loaded.infoHash)
        let startTime = Int64(time(nil))
        let metainfo: Metainfo
        switch loaded {
        case let .metainfo(known):
            metainfo = known
        case let .magnet(magnet):
            if let cached = MagnetResolver.cached(magnet, directory: cacheDirectory) {
                metainfo = cached
            } else if download == "none" {
                throw .badInput("--download none needs the metadata of \(magnet.infoHash.hex) in \(cacheDirectory)")
            } else {
                let (configuration, engine) = sessionConfiguration(cacheDirectory: cacheDirectory)
                let session = try await startMagnetSession(magnet, configuration: configuration, engine: engine, logger: logger)
                return Served(catalog: SingleTorrentCatalog(content: session, startTime: startTime,
                                                            extras: [("pid", String(getpid())), ("cacheDirectory", cacheDirectory)]),
                              stop: { await session.shutdown() })
            }
        }
        if download == "none" {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: cacheDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw .badInput("cache directory \(cacheDirectory) does not exist")
            }
            let directory = DirectoryContentSource(metainfo: metainfo, directory: cacheDirectory)
            return Served(catalog: SingleTorrentCatalog(content: directory, startTime: startTime),
                          stop: { directory.shutdown() })
        }
        let (configuration, engine) = sessionConfiguration(cacheDirectory: cacheDirectory)
        let session = try await startSession(metainfo, configuration: configuration, engine: engine, logger: logger,
                                             torrentPath: reference)
        return Served(catalog: SingleTorrentCatalog(content: session, startTime: startTime,
                                                    extras: [("pid", String(getpid())), ("cacheDirectory", cacheDirectory)]),
                      stop: { await session.shutdown() })
    }

    private func startLibrary(_ path: String, logger: Logger) async throws(CLIError) -> Served {
        let cacheRoot = cacheDir.map(PathTools.absolute) ?? CacheRoot.defaultPath()
        let (configuration, baseEngine) = sessionConfiguration(cacheDirectory: "")
        var engineConfiguration = baseEngine
        engineConfiguration.listens = configuration.uploadEnabled || engineConfiguration.listenPort != nil
        let engine: SwarmEngine
        do throws(SessionError) {
            engine = try await SwarmEngine.start(configuration: engineConfiguration, logger: logger)
        } catch {
            throw .runtime(error.description)
        }
        let startTime = Int64(time(nil))
        let fileSystem = LibraryFileSystem(
            ownership: FSOwnership(uid: getuid(), gid: getgid(), time: startTime),
            statusExtras: [("library", path), ("pid", String(getpid())), ("download", download), ("cacheRoot", cacheRoot)])
        // As `mount DIR` starts each torrent, a magnet link's metadata included.
        let starter = LibraryTorrentStarting.starter(engine: engine, serveCompleteCache: download == "none",
                                                     logger: logger) { directory in
            var torrentConfiguration = configuration
            torrentConfiguration.cacheDirectory = directory
            return torrentConfiguration
        }
        let library = Library(directory: path, cacheRoot: cacheRoot, fileSystem: fileSystem, logger: logger, starter: starter)
        do throws(LibraryError) {
            try await library.open()
        } catch {
            await engine.shutdown()
            throw .runtime(error.description)
        }
        return Served(catalog: LibraryCatalog(fileSystem: fileSystem, startTime: startTime), stop: {
            await library.close()
            await engine.shutdown()
        })
    }
}
