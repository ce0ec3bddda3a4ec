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
