import Logging
import SwarmSession
import SwarmMetainfo

/// Reads a .torrent for a command; a missing or malformed file is bad input (exit code 2).
func loadTorrent(_ path: String) throws(CLIError) -> Metainfo {
    do {
        return try Metainfo(contentsOf: path)
    } catch {
        throw .badInput("\(error)")
    }
}

/// Starts the engine for a command; a failure is a runtime error naming the torrent.
func startSession(_ metainfo: Metainfo, configuration: SessionConfiguration, engine: EngineConfiguration,
                  logger: Logger, torrentPath: String) async throws(CLIError) -> TorrentSession {
    var engine = engine
    // A torrent that neither uploads nor was given a port has no use for a listening socket.
    engine.listens = configuration.uploadEnabled || engine.listenPort != nil
    do {
        return try await TorrentSession.start(metainfo: metainfo, configuration: configuration,
                                              engineConfiguration: engine, logger: logger)
    } catch {
        throw .runtime("\(torrentPath): \(error)")
    }
}

/// Starts the torrent a magnet link names, on an engine of its own that stops with it: at once
/// when its cache folder holds the metadata, else once the swarm sent it (no deadline: the
/// caller interrupts). The link's peers, and those that sent the metadata, are dialled first.
func startMagnetSession(_ magnet: MagnetLink, configuration: SessionConfiguration, engine: EngineConfiguration,
                        logger: Logger) async throws(CLIError) -> TorrentSession {
    var engine = engine
    engine.listens = configuration.uploadEnabled || engine.listenPort != nil
    var configuration = configuration
    configuration.peers += magnet.peerAddresses.map(\.description)
    let running: SwarmEngine
    do {
        running = try await SwarmEngine.start(configuration: engine, logger: logger)
    } catch {
        throw .runtime("\(magnet.infoHash.hex): \(error)")
    }
    let metainfo: Metainfo
    if let cached = MagnetResolver.cached(magnet, directory: configuration.cacheDirectory) {
        metainfo = cached
    } else {
        do throws(CLIError) {
            let fetched = try await MagnetResolver.fetch(magnet, engine: running, peers: configuration.peers,
                                                         useTrackers: configuration.useTrackers, timeout: nil, logger: logger)
            metainfo = fetched.metainfo
            configuration.peers = fetched.peers.map(\.description) + configuration.peers
        } catch {
            await running.shutdown()
            throw error
        }
    }
    do {
        return try await running.add(metainfo, configuration: configuration, logger: logger, stopsEngine: true)
    } catch {
        await running.shutdown()
        throw .runtime("\(metainfo.name): \(error)")
    }
}
