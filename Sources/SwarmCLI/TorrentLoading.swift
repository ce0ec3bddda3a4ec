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
func startSession(_ metainfo: Metainfo, configuration: SessionConfiguration, logger: Logger,
                  torrentPath: String) async throws(CLIError) -> TorrentSession {
    do {
        return try await TorrentSession.start(metainfo: metainfo, configuration: configuration, logger: logger)
    } catch {
        throw .runtime("\(torrentPath): \(error)")
    }
}
