import Foundation
import Logging
import SwarmMetainfo
import SwarmSession
import SwarmStorage
import Synchronization

/// What a command was given to work on: a .torrent file or a magnet link.
enum TorrentReference {
    case file(path: String)
    case magnet(MagnetLink)

    /// Whether `text` is meant as a magnet link (it is then never taken for a file name).
    static func isMagnet(_ text: String) -> Bool {
        text.lowercased().hasPrefix("magnet:")
    }

    /// A magnet link when `text` starts with `magnet:` (malformed: bad input), else a file path.
    static func parse(_ text: String) throws(CLIError) -> TorrentReference {
        guard isMagnet(text) else { return .file(path: text) }
        do {
            return .magnet(try MagnetLink(parsing: text))
        } catch {
            throw .badInput("\(error)")
        }
    }
}

/// A command's torrent as far as it is known before any network: a .torrent file's metainfo
/// (read and checked), or a magnet link (its metadata still to find).
enum LoadedTorrent {
    case metainfo(Metainfo)
    case magnet(MagnetLink)

    /// Reads `text`'s .torrent file, or parses it as a magnet link; bad input either way is exit 2.
    static func load(_ text: String) throws(CLIError) -> LoadedTorrent {
        switch try TorrentReference.parse(text) {
        case let .file(path): .metainfo(try loadTorrent(path))
        case let .magnet(magnet): .magnet(magnet)
        }
    }

    var infoHash: InfoHash {
        switch self {
        case let .metainfo(metainfo): metainfo.infoHash
        case let .magnet(magnet): magnet.infoHash
        }
    }
}

/// Turns a magnet link into its torrent: from the cache folder when an earlier run stored the
/// info dictionary there (no network at all), else from the swarm (BEP 9).
enum MagnetResolver {
    /// The torrent stored in `directory` if it is the one `magnet` names, with the link's trackers
    /// and web seeds.
    static func cached(_ magnet: MagnetLink, directory: String) -> Metainfo? {
        guard let stored = CacheRoot.storedMetainfo(directory: directory), stored.infoHash == magnet.infoHash else {
            return nil
        }
        return try? Metainfo(infoDictionary: stored.rawInfo, trackers: magnet.trackerTiers, webSeeds: magnet.webSeeds)
    }

    /// Stores the fetched info dictionary in `directory` (created if missing), so that the next
    /// run starts at once. Failing to store only costs that.
    static func store(_ metainfo: Metainfo, directory: String, logger: Logger) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try CacheRoot.storeTorrent(Array("d4:info".utf8) + metainfo.rawInfo + Array("e".utf8), directory: directory)
        } catch {
            logger.warning("cannot keep the metadata in the cache", metadata: ["directory": "\(directory)", "error": "\(error)"])
        }
    }

    /// Fetches the metadata on `engine`; gives up after `timeout` (nil: never) with a runtime error.
    static func fetch(_ magnet: MagnetLink, engine: SwarmEngine, peers: [String], useTrackers: Bool,
                      timeout: Duration?, logger: Logger) async throws(CLIError) -> FetchedMetadata {
        let timedOut = Atomic<Bool>(false)
        let task = Task { () async throws(SessionError) -> FetchedMetadata in
            try await engine.fetchMetadata(magnet, peers: peers, useTrackers: useTrackers, logger: logger)
        }
        let timer = Task {
            guard let timeout else { return }
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            timedOut.store(true, ordering: .relaxed)
            task.cancel()
        }
        defer { timer.cancel() }
        let result = await withTaskCancellationHandler { await task.result } onCancel: { task.cancel() }
        switch result {
        case let .success(fetched):
            return fetched
        case let .failure(error):
            if timedOut.load(ordering: .relaxed), let timeout {
                throw .runtime("no peer sent the metadata of \(magnet.infoHash.hex) within \(timeout.components.seconds) s")
            }
            if let error = error as? SessionError, case .badMetadata = error { throw .runtime("\(error)") }
            throw .runtime("fetching the metadata of \(magnet.infoHash.hex) stopped: \(error)")
        }
    }
}
