import SwarmMetainfo

/// Reads a .torrent for a command; a missing or malformed file is bad input (exit code 2).
func loadTorrent(_ path: String) throws(CLIError) -> Metainfo {
    do {
        return try Metainfo(contentsOf: path)
    } catch {
        throw .badInput("\(error)")
    }
}
