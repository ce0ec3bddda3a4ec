import Logging
import SwarmFS
import SwarmMetainfo
import SwarmContent
import SwarmStorage
import Synchronization

/// A running torrent's content and how to stop it: what the library gets from its starter.
public struct LibrarySource: Sendable {
    public let content: any TorrentContentSource
    /// Stops the torrent: its waiting reads fail, nothing of it keeps running.
    public let stop: @Sendable () async -> Void

    public init(content: any TorrentContentSource, stop: @escaping @Sendable () async -> Void) {
        self.content = content
        self.stop = stop
    }
}

/// Starts one torrent of the library from its .torrent file's metadata, or from a magnet link
/// (whose metadata the starter finds: in the cache folder, or from the swarm — for as long as it
/// takes, until the task is cancelled), in its cache folder. The source's content names the
/// torrent's metadata.
public typealias LibraryTorrentStarter =
    @Sendable (_ origin: LibraryTorrent.Origin, _ cacheDirectory: String) async throws(LibraryError) -> LibrarySource

/// A library mount's moving part: follows the library folder (`DirectoryWatcher`), keeps the
/// books (`LibraryCatalog`), starts and stops torrents (through the starter) and changes the
/// mounted tree (`LibraryFileSystem`, which tells the kernel).
///
/// Everything is decided by one task reading one ordered stream of messages (file batches from
/// the watcher, starts that finished), so no two changes interleave.
public final class Library: Sendable {
    public let directory: String
    public let cacheRoot: String
    private let fileSystem: LibraryFileSystem
    private let logger: Logger
    private let starter: LibraryTorrentStarter
    private let messages: AsyncStream<LibraryMessage>
    private let post: AsyncStream<LibraryMessage>.Continuation
    private let watcher = Mutex<DirectoryWatcher?>(nil)
    private let keeperTask = Mutex<Task<Void, Never>?>(nil)

    /// A library of the `*.torrent` and `*.magnet` files in `directory`, shown by `fileSystem`,
    /// each torrent cached in `cacheRoot/<info-hash>/`.
    public init(directory: String, cacheRoot: String, fileSystem: LibraryFileSystem, logger: Logger,
                starter: @escaping LibraryTorrentStarter) {
        self.directory = directory
        self.cacheRoot = cacheRoot
        self.fileSystem = fileSystem
        self.logger = logger
        self.starter = starter
        (messages, post) = AsyncStream.makeStream(of: LibraryMessage.self)
    }

    /// Starts following the folder; returns once every torrent in it has started (or failed to),
    /// so that a mount made now shows them all.
    public func open() async throws(LibraryError) {
        let (fileSystem, cacheRoot, logger, starter, post) = (self.fileSystem, self.cacheRoot, self.logger, self.starter, self.post)
        let messages = self.messages
        let task = Task {
            let keeper = LibraryKeeper(fileSystem: fileSystem, cacheRoot: cacheRoot, logger: logger,
                                       starter: starter, post: post)
            await keeper.run(messages)
        }
        keeperTask.withLock { $0 = task }
        let started = try DirectoryWatcher(directory: directory, logger: logger) { batch in
            post.yield(.files(batch))
        }
        watcher.withLock { $0 = started }
        await withCheckedContinuation { continuation in
            post.yield(.whenSettled(continuation))
        }
    }

    /// Stops following the folder and stops every torrent (their waiting reads fail).
    public func close() async {
        let running = watcher.withLock { watcher in
            defer { watcher = nil }
            return watcher
        }
        running?.stop()
        await withCheckedContinuation { continuation in
            post.yield(.close(continuation))
        }
        await keeperTask.withLock { $0 }?.value
    }
}

/// What the keeper's task reads, in order.
enum LibraryMessage: Sendable {
    case files(DirectoryWatcher.Batch)
    /// A start finished; the keeper answers whether the source is kept (false: stop it now).
    case started(InfoHash, attempt: UInt64, Result<LibrarySource, LibraryError>, CheckedContinuation<Bool, Never>)
    case whenSettled(CheckedContinuation<Void, Never>)
    case close(CheckedContinuation<Void, Never>)
}
