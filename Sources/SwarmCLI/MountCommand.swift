import ArgumentParser
import Dispatch
import Foundation
import Logging
import SwarmContent
import SwarmFS
import SwarmFUSE
import SwarmHTTP
import SwarmMetainfo
import SwarmSession
import SwarmStorage
import Synchronization

/// `swarmfs mount FILE.torrent MOUNTPOINT`: a read-only filesystem that streams on demand.
/// `swarmfs mount DIR MOUNTPOINT`: a library, one folder per torrent in DIR, followed as it
/// changes (`LibraryMountDaemon`).
///
/// Without `-f` it starts itself again as a daemon (a fresh process in a new session — never
/// `fork()` of a running Swift process) with `--foreground --ready-fd N`, and returns once the
/// daemon reports on the pipe that the mount answers. Also accepts the mount(8) form
/// `-o cache_dir=...,peer=...,allow_other` (see Mount/README.md).
struct MountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount a torrent, or a folder of torrents, as a read-only filesystem that downloads what is read.",
        discussion: """
            Returns once MOUNTPOINT is mounted and serving. Unmount with `swarmfs unmount MOUNTPOINT`, \
            `fusermount3 -u MOUNTPOINT`, or Ctrl+C with -f. `--download none` serves a cache that already \
            holds the whole payload, without contacting any peer. Options may also be given as \
            `-o cache_dir=DIR,download=MODE,peer=HOST:PORT,...`; other -o options go to FUSE. \
            Given a folder instead of a .torrent file, every *.torrent and *.magnet file in it is a folder \
            at the mount root, added, replaced and removed as the folder changes; --cache-dir is then the \
            cache root (each torrent in <cache-dir>/<info-hash>/).
            """)

    @Argument(help: "The .torrent file, or a folder of .torrent and .magnet files (a library).")
    var torrent: String

    @Argument(help: "An existing, empty directory.")
    var mountpoint: String

    @Option(name: .long, help: "Where the torrent's files are kept (default: $XDG_CACHE_HOME/swarmfs/<info-hash>).")
    var cacheDir: String?

    @Option(name: .long, help: "all (read first, then the rest in order), on-demand (only what is read), or none (serve a complete cache).")
    var download: String?

    @Option(name: .long, help: "Keep the cache under this size (bytes, or with K/M/G suffix).")
    var cacheSize: ByteSize?

    @Option(name: .long, help: "Answer a read with EIO when its data takes longer than this many seconds.")
    var readTimeout: Double?

    @Option(name: .long, help: "Connect to this peer directly (HOST:PORT; repeatable).")
    var peer: [String] = []

    @Option(name: .long, help: "TCP port to accept peers on.")
    var listenPort: UInt16?

    @Option(name: .long, help: "Address to listen on and connect from.")
    var listenHost: String?

    @Option(name: .long, help: "The most peer connections at once.")
    var maxPeers: Int?

    @Flag(name: .long, help: "Do not contact the torrent's trackers (use --peer).")
    var noTrackers = false

    @Flag(name: .long, help: "Do not download from the torrent's web seeds (BEP 19 url-list, a magnet's ws).")
    var noWebSeeds = false

    @Flag(inversion: .prefixedNo, help: "Keep the downloaded data after unmounting (--no-keep deletes it).")
    var keep = true

    @Flag(name: .long, help: "Never upload to other peers.")
    var noUpload = false

    @Flag(name: .long, help: "Do not look for peers on the local network (BEP 14 multicast).")
    var noLsd = false

    @OptionGroup var rates: RateOptions

    @OptionGroup var dht: DHTOptions

    @OptionGroup var encryption: EncryptionOptions
    @OptionGroup var transports: TransportOptions

    @Option(name: .long, help: ArgumentHelp(HTTPAddress.help, valueName: "[HOST:]PORT"))
    var http: String?

    @Flag(name: [.customShort("f"), .long], help: "Stay in the foreground.")
    var foreground = false

    @Option(name: .customShort("o"), help: ArgumentHelp("Mount options (comma-separated; repeatable).", valueName: "options"))
    var options: [String] = []

    @OptionGroup var logging: LoggingOptions

    @Option(name: .long, help: .hidden)
    var readyFd: Int32?

    @Option(name: .long, help: .hidden)
    var debugHoldReadsWhile: String?

    @Flag(name: .long, help: .hidden)
    var fuseDebug = false

    func run() throws {
        let settings = try MountSettings(command: self)
        if settings.foreground || readyFd != nil {
            try MountDaemon(settings: settings, readyFd: readyFd).serve()
        } else {
            do {
                try MountLauncher.launch(settings)
            } catch let failure as MountFailure {
                throw failure.exit()
            }
        }
    }
}

/// The parent side of a background mount: start the daemon, wait for its report.
enum MountLauncher {
    static func launch(_ settings: MountSettings) throws {
        let executable = DaemonLauncher.currentExecutable() ?? CommandLine.arguments[0]
        let outcome = DaemonLauncher.launch(executable: executable, logFile: settings.logging.logFile) { fd in
            settings.daemonArguments(readyFd: fd)
        }
        if case let .failed(exitCode, message) = outcome {
            throw MountFailure(exitCode: exitCode, message: message)
        }
    }
}

/// A mount that failed: one sentence on stderr, then the exit code (2 bad input, 1 runtime).
struct MountFailure: Error, CustomStringConvertible {
    let exitCode: Int32
    let message: String
    var description: String { message }
}

extension MountFailure {
    /// Prints the message the way every swarmfs error looks and ends the process.
    func exit() -> ExitCode {
        FileHandle.standardError.write(Data("swarmfs: \(message)\n".utf8))
        return ExitCode(exitCode)
    }
}

/// The daemon (or `-f`) side: load, check, start the source, mount, serve, shut down.
struct MountDaemon {
    let settings: MountSettings
    let readyFd: Int32?

    func serve() throws {
        do {
            try serveOrFail()
        } catch let failure as MountFailure {
            if let readyFd {
                ReadyPipe.reportFailure(readyFd, exitCode: failure.exitCode, message: failure.message)
            }
            throw failure.exit()
        }
    }

    private func serveOrFail() throws {
        let logger: Logger
        do {
            var logging = settings.logging
            if readyFd != nil {
                // The launcher already sends our stderr to the log file (or /dev/null).
                logging.logFile = nil
            }
            logger = try logging.bootstrap(label: "swarmfs.mount")
        } catch {
            throw MountFailure(exitCode: 2, message: "\(error)")
        }

        if LibraryMountDaemon.isLibrary(settings.torrent) {
            try LibraryMountDaemon(settings: settings, readyFd: readyFd, logger: logger).serve()
            return
        }

        var settings = self.settings
        let metainfo: Metainfo
        switch try Self.reference(settings.torrent) {
        case let .file(path):
            do {
                metainfo = try Metainfo(contentsOf: path)
            } catch {
                throw MountFailure(exitCode: 2, message: "cannot read torrent \(path): \(error)")
            }
        case let .magnet(magnet):
            let directory = settings.cacheDirectory ?? CacheRoot.directory(root: CacheRoot.defaultPath(), infoHash: magnet.infoHash)
            settings.peers += magnet.peerAddresses.map(\.description)
            if let cached = MagnetResolver.cached(magnet, directory: directory) {
                // An earlier mount fetched the metadata: this one starts at once, with no network.
                metainfo = cached
                settings.cacheDirectory = directory
            } else {
                try Self.prepareMountpoint(settings.mountpoint, logger: logger)
                try MagnetMountDaemon(settings: settings, readyFd: readyFd, logger: logger, magnet: magnet,
                                      cacheDirectory: directory).serve()
                return
            }
        }
        try Self.prepareMountpoint(settings.mountpoint, logger: logger)

        let cacheDirectory = settings.cacheDirectory
            ?? CacheRoot.directory(root: CacheRoot.defaultPath(), infoHash: metainfo.infoHash)
        let source = try startSource(metainfo: metainfo, cacheDirectory: cacheDirectory, settings: settings, logger: logger)
        // Pinned now, while the folder is surely the one this mount uses (`--no-keep`).
        let removal = settings.keep ? nil : TorrentDataRemoval.pin(directory: cacheDirectory)

        let fileSystem = SwarmFileSystem(
            source: source.content, uid: getuid(), gid: getgid(), mountTime: Int64(time(nil)),
            statusExtras: [("mountpoint", settings.mountpoint), ("pid", String(getpid())),
                           ("download", settings.download), ("cacheDirectory", cacheDirectory)])
        // A magnet link is no name for /proc/mounts (its `&` and `,` would need escaping).
        let fsName = TorrentReference.isMagnet(settings.torrent) ? "magnet:?xt=urn:btih:\(metainfo.infoHash.hex)" : settings.torrent
        let mountOptions = settings.fuseMountOptions(fsName: fsName)
        let mount: FuseMount
        do {
            mount = try FuseMount(fileSystem: fileSystem, options: mountOptions, logger: logger)
        } catch {
            source.shutdown()
            throw MountFailure(exitCode: 1, message: error.description)
        }

        let http: HTTPServer?
        do {
            http = try settings.http?.startServer(
                SingleTorrentCatalog(content: source.content, startTime: Int64(time(nil)),
                                     extras: [("mountpoint", settings.mountpoint), ("pid", String(getpid()))]),
                logger: logger)
        } catch {
            mount.close()
            source.shutdown()
            throw MountFailure(exitCode: 1, message: error.description)
        }
        defer { http?.stop() }

        let mountpoint = settings.mountpoint
        let reporter = foregroundProgress(source.content)
        let signal: Int32
        do {
            signal = try Blocking.runMounted(mount, readyFd: readyFd, logger: logger, message: "mounted")
        } catch {
            mount.close()
            source.shutdown()
            throw MountFailure(exitCode: 1, message: error.description)
        }
        logger.info("unmounting", metadata: ["signal": "\(signal)", "pendingReads": "\(mount.pendingReadCount)"])
        http?.stop()
        mount.close()
        reporter?.stop(final: false)
        source.shutdown()
        if !settings.keep {
            Self.removeTorrentData(metainfo: metainfo, removal: removal, directory: cacheDirectory, logger: logger)
        }
        logger.info("stopped", metadata: ["mountpoint": "\(mountpoint)"])
    }

    /// `--no-keep`: deletes what this torrent put in the cache directory — its own files and
    /// `.swarmfs/` — and the directory itself if that leaves it empty. Anything else a user keeps
    /// there (`--cache-dir` may be a shared download folder) is never touched (`TorrentDataRemoval`).
    static func removeTorrentData(metainfo: Metainfo, removal: TorrentDataRemoval?,
                                          directory: String, logger: Logger) {
        guard let removal else {
            logger.warning("cache folder could not be opened; not removing it", metadata: ["directory": "\(directory)"])
            return
        }
        guard let lock = try? CacheLock.acquire(directory: directory) else {
            logger.warning("cache still in use; not removing it", metadata: ["directory": "\(directory)"])
            return
        }
        for failure in removal.remove(metainfo) {
            logger.error("cannot remove cached data", metadata: ["path": "\(failure.path)", "error": "\(failure.reason)"])
        }
        lock.release()
        // The lock file lived in .swarmfs/, which is gone; remove the folder if nothing else is in it.
        _ = rmdir(directory)
    }

    /// The content behind the mount and how to stop it.
    private struct Source {
        let content: any TorrentContentSource
        let shutdown: () -> Void
    }

    /// The .torrent file or magnet link to mount; a malformed link is bad input.
    private static func reference(_ text: String) throws -> TorrentReference {
        do {
            return try TorrentReference.parse(text)
        } catch {
            throw MountFailure(exitCode: 2, message: error.description)
        }
    }

    /// Checks MOUNTPOINT (an existing empty directory) and clears a stale mount left on it.
    static func prepareMountpoint(_ mountpoint: String, logger: Logger) throws {
        do {
            if try MountpointCheck.prepare(mountpoint) {
                logger.notice("cleared a stale mount", metadata: ["mountpoint": "\(mountpoint)"])
            }
        } catch {
            let badInput: Bool = switch error {
            case .missing, .notDirectory, .notEmpty, .alreadyMounted: true
            default: false
            }
            throw MountFailure(exitCode: badInput ? 2 : 1, message: error.description)
        }
    }

    private func startSource(metainfo: Metainfo, cacheDirectory: String, settings: MountSettings,
                             logger: Logger) throws -> Source {
        if settings.download == "none" {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: cacheDirectory, isDirectory: &isDirectory),
                  isDirectory.boolValue else {
                throw MountFailure(exitCode: 2, message: "cache directory \(cacheDirectory) does not exist")
            }
            let directory = DirectoryContentSource(metainfo: metainfo, directory: cacheDirectory,
                                                   holdReadsWhileExists: settings.holdReadsWhile)
            // Never followed nor opened (their reads fail with EIO); said once, up front.
            for problem in directory.unsafeEntries(limit: 20) {
                logger.warning("served as missing", metadata: ["reason": "\(problem)"])
            }
            return Source(content: directory, shutdown: { directory.shutdown() })
        }
        let configuration = settings.sessionConfiguration(cacheDirectory: cacheDirectory)
        let engine = settings.engineConfiguration(listensFor: configuration)

        let outcome = Mutex<Result<TorrentSession, SessionError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do throws(SessionError) {
                let session = try await TorrentSession.start(metainfo: metainfo, configuration: configuration,
                                                             engineConfiguration: engine, logger: logger)
                outcome.withLock { $0 = .success(session) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        switch outcome.withLock({ $0 }) {
        case let .success(session):
            return Source(content: session, shutdown: { Self.shutdown(session, within: .milliseconds(1500)) })
        case let .failure(error):
            let badInput: Bool = if case .badPeerAddress = error { true } else { false }
            throw MountFailure(exitCode: badInput ? 2 : 1, message: error.description)
        case nil:
            throw MountFailure(exitCode: 1, message: "the session did not start")
        }
    }

    /// Stops the session (resume state saved, `stopped` announced), but never waits longer than
    /// `limit`: the process must exit promptly after an unmount.
    private static func shutdown(_ session: TorrentSession, within limit: DispatchTimeInterval) {
        let done = DispatchSemaphore(value: 0)
        Task {
            await session.shutdown()
            done.signal()
        }
        _ = done.wait(timeout: .now() + limit)
    }

    /// The live progress line of `-f` on a terminal.
    private func foregroundProgress(_ content: any TorrentContentSource) -> ProgressReporter? {
        guard readyFd == nil, isatty(STDERR_FILENO) == 1, let session = content as? TorrentSession else { return nil }
        let reporter = ProgressReporter(session: session)
        reporter.start()
        return reporter
    }
}
