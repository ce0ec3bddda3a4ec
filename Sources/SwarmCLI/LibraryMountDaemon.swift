import Dispatch
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
import Synchronization

/// The daemon side of `swarmfs mount DIR MOUNTPOINT`: a library of every `*.torrent` and
/// `*.magnet` file in DIR, one folder each, following DIR while mounted.
///
/// Every torrent runs on one `SwarmEngine`: one event loop, one listening socket whose router
/// hands each peer to the torrent it asks for, one set of rate limits, one piece-memory budget
/// and one `--cache-size` for the whole library.
struct LibraryMountDaemon {
    let settings: MountSettings
    let readyFd: Int32?
    let logger: Logger

    /// Whether the mount source names a folder (a library) rather than a .torrent file.
    static func isLibrary(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// How long stopping every torrent may take at unmount before the process exits anyway.
    static let stopLimit: DispatchTimeInterval = .seconds(3)

    func serve() throws {
        try refuseSingleTorrentOptions()
        try MountDaemon.prepareMountpoint(settings.mountpoint, logger: logger)
        let cacheRoot = settings.cacheDirectory ?? CacheRoot.defaultPath()
        let engine = try startEngine()
        let fileSystem = LibraryFileSystem(
            ownership: FSOwnership(uid: getuid(), gid: getgid(), time: Int64(time(nil))),
            statusExtras: [("library", settings.torrent), ("mountpoint", settings.mountpoint),
                           ("pid", String(getpid())), ("download", settings.download), ("cacheRoot", cacheRoot)])
        let library = Library(directory: settings.torrent, cacheRoot: cacheRoot, fileSystem: fileSystem,
                              logger: logger, starter: makeStarter(engine: engine))
        if let failure = Blocking.wait({ () async -> LibraryError? in
            do throws(LibraryError) {
                try await library.open()
                return nil
            } catch {
                return error
            }
        }) ?? nil {
            _ = Blocking.wait(within: Self.stopLimit) { await engine.shutdown() }
            throw MountFailure(exitCode: 1, message: failure.description)
        }

        // Stops every torrent and the engine when the mount cannot go on (within `stopLimit`).
        func stopAll() {
            _ = Blocking.wait(within: Self.stopLimit) {
                await library.close()
                await engine.shutdown()
            }
        }
        let mountOptions = settings.fuseMountOptions(fsName: settings.torrent)
        let mount: FuseMount
        do {
            mount = try FuseMount(fileSystem: fileSystem, options: mountOptions, logger: logger)
        } catch {
            stopAll()
            throw MountFailure(exitCode: 1, message: error.description)
        }
        fileSystem.setNotifier(mount.changeNotifier)
        let http: HTTPServer?
        do {
            http = try settings.http?.startServer(LibraryCatalog(fileSystem: fileSystem, startTime: Int64(time(nil))),
                                                  logger: logger)
        } catch {
            mount.close()
            stopAll()
            throw MountFailure(exitCode: 1, message: error.description)
        }
        defer { http?.stop() }

        let mountpoint = settings.mountpoint
        let signal: Int32
        do {
            signal = try Blocking.runMounted(mount, readyFd: readyFd, logger: logger, message: "library mounted")
        } catch {
            mount.close()
            stopAll()
            throw MountFailure(exitCode: 1, message: error.description)
        }
        logger.info("unmounting", metadata: ["signal": "\(signal)", "pendingReads": "\(mount.pendingReadCount)"])
        http?.stop()
        mount.close()
        fileSystem.setNotifier(nil)
        let stoppedInTime = Blocking.wait(within: Self.stopLimit) { () async -> Bool in
            await library.close()
            await engine.shutdown()
            return true
        } ?? false
        if !stoppedInTime {
            logger.warning("some torrents were still stopping at exit")
        }
        logger.info("stopped", metadata: ["mountpoint": "\(mountpoint)"])
    }

    /// `--no-keep` names one torrent's data: refused for a library rather than half-applied.
    private func refuseSingleTorrentOptions() throws {
        if !settings.keep {
            throw MountFailure(exitCode: 2, message: "--no-keep is not supported for a library")
        }
    }

    /// The engine every torrent of the library runs on; a port that cannot be opened fails the
    /// mount (exit 1) before anything is mounted.
    private func startEngine() throws -> SwarmEngine {
        try Blocking.startEngine(settings.engineConfiguration(listensFor: settings.sessionConfiguration(cacheDirectory: "")),
                                 logger: logger)
    }

    private func makeStarter(engine: SwarmEngine) -> LibraryTorrentStarter {
        let settings = self.settings
        return LibraryTorrentStarting.starter(engine: engine, serveCompleteCache: settings.download == "none",
                                              logger: logger) { settings.sessionConfiguration(cacheDirectory: $0) }
    }
}
