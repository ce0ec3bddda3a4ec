import ArgumentParser
import Foundation
import SwarmStorage

/// `swarmfs cache list | remove INFO-HASH|NAME | prune --max-size BYTES` over the cache root
/// (default `$XDG_CACHE_HOME/swarmfs`, else `~/.cache/swarmfs`).
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "List, remove and prune torrents in the cache.",
        subcommands: [CacheListCommand.self, CacheRemoveCommand.self, CachePruneCommand.self])
}

/// The `--root` option shared by the cache subcommands.
struct CacheRootOption: ParsableArguments {
    @Option(name: .long, help: "The cache root (default: $XDG_CACHE_HOME/swarmfs or ~/.cache/swarmfs).")
    var root: String?

    var path: String { root ?? CacheRoot.defaultPath() }
}

/// `swarmfs cache list [--json]`: name, info-hash, size on disk, completion, last used.
struct CacheListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List cached torrents.")

    @OptionGroup var root: CacheRootOption

    @Flag(name: .long, help: "Print the list as JSON.")
    var json = false

    func run() throws {
        let entries = CacheRoot.entries(root: root.path)
        // Such a record was treated as missing (its entry shows "?"); say why.
        for entry in entries {
            if let problem = ResumeRecord.unsafeEntry(directory: entry.directory) {
                writeStandardError("warning: \(problem)\n")
            }
        }
        if json {
            print(Self.json(entries))
            return
        }
        if entries.isEmpty {
            print("no torrents in \(root.path)")
            return
        }
        print("NAME\tINFO-HASH\tON DISK\tDONE\tLAST USED")
        for entry in entries {
            let done = entry.verifiedPieces == nil ? "?" : String(format: "%.1f%%", entry.completion * 100)
            let inUse = entry.inUse ? " (in use)" : ""
            print("\(entry.name ?? "?")\t\(entry.infoHash)\t\(ByteSize.format(entry.allocatedBytes))\t\(done)\t"
                  + Self.timestamp(entry.lastUsed) + inUse)
        }
    }

    static func timestamp(_ seconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    static func json(_ entries: [CacheEntry]) -> String {
        struct EntryJSON: Encodable {
            let name: String?
            let infoHash: String
            let directory: String
            let sizeOnDisk: Int64
            let pieceCount: Int?
            let verifiedPieces: Int?
            let completion: Double
            let lastUsed: String
            let inUse: Bool
        }
        let rows = entries.map {
            EntryJSON(name: $0.name, infoHash: $0.infoHash, directory: $0.directory, sizeOnDisk: $0.allocatedBytes,
                      pieceCount: $0.pieceCount, verifiedPieces: $0.verifiedPieces, completion: $0.completion,
                      lastUsed: timestamp($0.lastUsed), inUse: $0.inUse)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(rows) else { return "[]" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// `swarmfs cache remove INFO-HASH|NAME`: deletes one torrent's cache (refused while mounted).
struct CacheRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a torrent from the cache.")

    @OptionGroup var root: CacheRootOption

    @Argument(help: "The torrent's info-hash (or a unique prefix of 8+ digits) or its name.")
    var key: String

    func run() throws {
        try CLIError.reporting { try remove() }
    }

    private func remove() throws {
        let entry: CacheEntry
        do {
            entry = try CacheRoot.find(key, root: root.path)
        } catch {
            throw CLIError.badInput("\(error)")
        }
        do {
            try CacheRoot.remove(entry)
        } catch {
            throw CLIError.runtime("cannot remove \(entry.name ?? entry.infoHash): \(error)")
        }
        print("removed \(entry.name ?? "?") \(entry.infoHash) (\(ByteSize.format(entry.allocatedBytes)))")
    }
}

/// `swarmfs cache prune --max-size BYTES`: removes least recently used torrents until the cache
/// fits; torrents in use are kept.
struct CachePruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune", abstract: "Remove least recently used torrents until the cache fits a size.")

    @OptionGroup var root: CacheRootOption

    @Option(name: .long, help: "The size to shrink the cache to (bytes; K, M, G, T suffixes).")
    var maxSize: ByteSize

    func run() throws {
        try CLIError.reporting { try prune() }
    }

    private func prune() throws {
        let result: CacheRoot.PruneResult
        do {
            result = try CacheRoot.prune(root: root.path, maxBytes: maxSize.bytes)
        } catch {
            throw CLIError.runtime("pruning \(root.path) failed: \(error)")
        }
        for entry in result.removed {
            print("removed \(entry.name ?? "?") \(entry.infoHash) (\(ByteSize.format(entry.allocatedBytes)))")
        }
        for entry in result.skippedInUse {
            print("kept \(entry.name ?? "?") \(entry.infoHash): in use")
        }
        print("cache now uses \(ByteSize.format(result.remainingBytes))")
        if result.remainingBytes > maxSize.bytes {
            throw CLIError.runtime("the cache still uses \(ByteSize.format(result.remainingBytes)) because "
                                   + "\(result.skippedInUse.count) torrent(s) are in use")
        }
    }
}
