import Dispatch
import Foundation
import Logging
import SwarmFS
import SwarmFUSE
import SwarmHTTP
import SwarmMetainfo
import SwarmSession
import SwarmStorage
import Synchronization

/// `swarmfs mount MAGNET MOUNTPOINT` when the torrent's metadata is not in its cache folder yet:
/// mounts at once with an empty root, fetches the metadata from the swarm (BEP 9), then starts
/// the torrent on the same engine and shows its tree (`PendingTorrentFileSystem`). With the
/// metadata cached, `MountDaemon` mounts the magnet like a .torrent file instead.
struct MagnetMountDaemon {
    let settings: MountSettings
    let readyFd: Int32?
    let logger: Logger
    let magnet: MagnetLink
    let cacheDirectory: String

    /// How long stopping may take at unmount before the process exits anyway.
    static let stopLimit: DispatchTimeInterval = .seconds(3)

    func serve() throws {
        guard settings.download != "none" else {
            throw MountFailure(exitCode: 2, message: "--download none needs the torrent's metadata in \(cacheDirectory); "
                                   + "mount the magnet link once without it")
        }
        var configuration = settings.sessionConfiguration(cacheDirectory: cacheDirectory)
        configuration.peers += magnet.peerAddresses.map(\.description)
        let engine = try startEngine(configuration)
        let infoHash = magnet.infoHash
        let mountpoint = settings.mountpoint
        let extras = [("mountpoint", mountpoint), ("pid", String(getpid())), ("download", settings.download),
                      ("cacheDirectory", cacheDirectory)]
        let name = magnet.displayName ?? infoHash.hex
        let fileSystem = PendingTorrentFileSystem(
            ownership: FSOwnership(uid: getuid(), gid: getgid(), time: Int64(time(nil))),
            lookupWait: settings.readTimeout.map { .milliseconds(DisplayFigures.clampedInt64($0 * 1000)) },
            waitingStatus: { Self.waitingStatus(infoHash: infoHash, name: name, extras: extras) })

        let mountOptions = settings.fuseMountOptions(fsName: "magnet:?xt=urn:btih:\(infoHash.hex)")
        let mount: FuseMount
        do {
            mount = try FuseMount(fileSystem: fileSystem, options: mountOptions, logger: logger)
        } catch {
            _ = Blocking.wait(within: Self.stopLimit) { await engine.shutdown() }
            throw MountFailure(exitCode: 1, message: error.description)
        }
        fileSystem.setNotifier(mount.changeNotifier)

        // HTTP answers at once; the torrent is listed once its metadata arrived.
        let catalog = DeferredCatalog()
        let http: HTTPServer?
        do {
            http = try settings.http?.startServer(catalog, logger: logger)
        } catch {
            mount.close()
            _ = Blocking.wait(within: Self.stopLimit) { await engine.shutdown() }
            throw MountFailure(exitCode: 1, message: error.description)
        }
        defer { http?.stop() }

        let session = SessionSlot()
        let resolver = startResolving(engine: engine, configuration: configuration, fileSystem: fileSystem,
                                      extras: extras, session: session, catalog: catalog)
        let signal: Int32
        do {
            signal = try Blocking.runMounted(mount, readyFd: readyFd, logger: logger, message: "mounted")
        } catch {
            mount.close()
            stop(resolver: resolver, fileSystem: fileSystem, engine: engine)
            throw MountFailure(exitCode: 1, message: error.description)
        }
        logger.info("unmounting", metadata: ["signal": "\(signal)", "pendingReads": "\(mount.pendingReadCount)"])
        mount.close()
        fileSystem.setNotifier(nil)
        stop(resolver: resolver, fileSystem: fileSystem, engine: engine)
        if !settings.keep, let metainfo = session.value.withLock({ $0?.metainfo }) {
            MountDaemon.removeTorrentData(metainfo: metainfo, removal: TorrentDataRemoval.pin(directory: cacheDirectory),
                                          directory: cacheDirectory, logger: logger)
        }
        logger.info("stopped", metadata: ["mountpoint": "\(mountpoint)"])
    }

    /// Fetches the metadata, starts the torrent and shows its tree; a failure is logged and
    /// leaves the mount empty (its status says why).
    private func startResolving(engine: SwarmEngine, configuration: SessionConfiguration,
                                fileSystem: PendingTorrentFileSystem, extras: [(String, String)],
                                session: SessionSlot, catalog: DeferredCatalog) -> Task<Void, Never> {
        let (magnet, logger) = (self.magnet, self.logger)
        return Task {
            var configuration = configuration
            let metainfo: Metainfo
            do throws(SessionError) {
                let fetched = try await engine.fetchMetadata(magnet, peers: configuration.peers,
                                                             useTrackers: configuration.useTrackers, logger: logger)
                metainfo = fetched.metainfo
                configuration.peers = fetched.peers.map(\.description) + configuration.peers
                let started = try await engine.add(metainfo, configuration: configuration, logger: logger)
                session.value.withLock { $0 = started }
                fileSystem.attach(SwarmFileSystem(source: started, uid: getuid(), gid: getgid(),
                                                  mountTime: Int64(time(nil)), statusExtras: extras))
                catalog.fill(with: SingleTorrentCatalog(content: started, startTime: Int64(time(nil)), extras: extras))
                logger.info("torrent tree shown", metadata: ["name": "\(metainfo.name)", "files": "\(metainfo.layout.files.count)"])
            } catch {
                if !Task.isCancelled {
                    logger.error("cannot start the magnet link's torrent", metadata: ["infoHash": "\(magnet.infoHash.hex)",
                                                                                      "error": "\(error)"])
                }
                fileSystem.end()
            }
        }
    }

    private func stop(resolver: Task<Void, Never>, fileSystem: PendingTorrentFileSystem, engine: SwarmEngine) {
        resolver.cancel()
        fileSystem.end()
        let stoppedInTime = Blocking.wait(within: Self.stopLimit) { () async -> Bool in
            await resolver.value
            await engine.shutdown()
            return true
        } ?? false
        if !stoppedInTime { logger.warning("the torrent was still stopping at exit") }
    }

    private func startEngine(_ configuration: SessionConfiguration) throws -> SwarmEngine {
        try Blocking.startEngine(settings.engineConfiguration(listensFor: configuration), logger: logger)
    }

    /// The root's status document until the metadata arrives (`swarmfs status` shows the reason).
    static func waitingStatus(infoHash: InfoHash, name: String, extras: [(String, String)]) -> String {
        var fields = [("infoHash", JSONText.quote(infoHash.hex)), ("name", JSONText.quote(name)),
                      ("state", JSONText.quote("magnet")),
                      ("reason", JSONText.quote("waiting for metadata from the swarm")),
                      ("totalLength", "0"), ("verifiedBytes", "0"), ("peers", "0")]
        fields += extras.map { ($0.0, JSONText.quote($0.1)) }
        return "{" + fields.map { "\(JSONText.quote($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }
}

/// The torrent a magnet mount started, once it did (read at unmount for `--no-keep`).
private final class SessionSlot: Sendable {
    let value = Mutex<TorrentSession?>(nil)
}
