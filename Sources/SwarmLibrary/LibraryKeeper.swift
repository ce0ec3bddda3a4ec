import Logging
import SwarmFS
import SwarmMetainfo
import SwarmStorage

/// The library's single decision maker, confined to the task that reads its messages.
///
/// Invariants: a torrent of the catalog is `starting` (its session is on the way; a magnet
/// link's shows a placeholder folder meanwhile, as its metadata may take long) or `mounted`
/// (a folder at the root, with its source unless it is an empty placeholder); `chains[hash]`
/// is the last task that starts or stops a session of that torrent, and every new start or stop
/// of it waits for that task first, so two sessions of one torrent (one cache folder, one lock)
/// never overlap. A start task ends only once its session was either kept or stopped.
/// `startingNotes` has an entry exactly for the slots that are `starting` without a placeholder
/// (a library is settled when they are done; a magnet link waiting for peers does not hold it),
/// `fetching` exactly for those with one (their tasks are cancelled at close and removal).
final class LibraryKeeper {
    private enum Slot {
        case starting(attempt: UInt64, placeholder: UInt64?)
        case mounted(folder: UInt64, source: LibrarySource?)
    }

    private let fileSystem: LibraryFileSystem
    private let cacheRoot: String
    private let logger: Logger
    private let starter: LibraryTorrentStarter
    private let post: AsyncStream<LibraryMessage>.Continuation
    private var catalog = LibraryCatalog()
    private var slots: [InfoHash: Slot] = [:]
    private var chains: [InfoHash: Task<Void, Never>] = [:]
    /// The `status` note of every torrent whose slot is `starting`, kept as slots change so that
    /// a start costs O(1) here, not a scan of the whole library (a thousand starts at mount).
    private var startingNotes: [InfoHash: LibraryPendingTorrent] = [:]
    private var fetching: Set<InfoHash> = []
    private var nextAttempt: UInt64 = 0
    private var firstBatchSeen = false
    private var settledWaiters: [CheckedContinuation<Void, Never>] = []
    private var closeWaiter: CheckedContinuation<Void, Never>?

    /// The reason an empty magnet folder gives in `status`.
    static let magnetReason = "waiting for metadata from the swarm"

    init(fileSystem: LibraryFileSystem, cacheRoot: String, logger: Logger, starter: @escaping LibraryTorrentStarter,
         post: AsyncStream<LibraryMessage>.Continuation) {
        self.fileSystem = fileSystem
        self.cacheRoot = cacheRoot
        self.logger = logger
        self.starter = starter
        self.post = post
    }

    func run(_ messages: AsyncStream<LibraryMessage>) async {
        for await message in messages {
            switch message {
            case let .files(batch):
                if closeWaiter == nil { apply(batch) }
            case let .started(hash, attempt, result, decision):
                decision.resume(returning: started(hash, attempt: attempt, result))
            case let .whenSettled(waiter):
                settledWaiters.append(waiter)
            case let .close(waiter):
                closeWaiter = waiter
                stopEverything()
            }
            if firstBatchSeen, !isStarting {
                for waiter in settledWaiters { waiter.resume() }
                settledWaiters.removeAll()
            }
            if let waiter = closeWaiter, !isStarting, fetching.isEmpty {
                for chain in chains.values { await chain.value }
                for waiter in settledWaiters { waiter.resume() }
                waiter.resume()
                return
            }
        }
    }

    private var isStarting: Bool {
        !startingNotes.isEmpty
    }

    /// Every change of a slot goes through here, so that `startingNotes` follows `slots`.
    private func setSlot(_ hash: InfoHash, _ slot: Slot?) {
        slots[hash] = slot
        startingNotes[hash] = nil
        fetching.remove(hash)
        guard case let .starting(_, placeholder)? = slot else { return }
        if placeholder != nil {
            fetching.insert(hash)
        } else if let torrent = catalog.torrent(hash) {
            startingNotes[hash] = LibraryPendingTorrent(folder: torrent.folder, infoHash: hash.hex, state: "starting")
        }
    }

    // MARK: Changes

    private func apply(_ batch: DirectoryWatcher.Batch) {
        let update = catalog.update(batch)
        for problem in update.newProblems {
            logger.warning("library file skipped", metadata: ["file": "\(problem.file)", "reason": "\(problem.reason)"])
        }
        var removing: [UInt64] = []
        var renaming: [(folder: UInt64, name: String)] = []
        var adding: [(InfoHash, LibraryFolder)] = []
        var stopping: [(InfoHash, LibrarySource)] = []
        for change in update.changes {
            switch change {
            case let .remove(hash, folder):
                logger.info("torrent left the library", metadata: ["folder": "\(folder)", "infoHash": "\(hash)"])
                let slot = slots[hash]
                setSlot(hash, nil)
                if case let .mounted(inode, source)? = slot {
                    removing.append(inode)
                    if let source { stopping.append((hash, source)) }
                } else if case let .starting(_, placeholder?)? = slot {
                    // A magnet link still fetching: it stops looking (its start then ends unkept).
                    removing.append(placeholder)
                    chains[hash]?.cancel()
                }
            case let .rename(hash, from, to):
                logger.info("library folder renamed", metadata: ["from": "\(from)", "to": "\(to)"])
                switch slots[hash] {
                case let .mounted(inode, _)?, let .starting(_, inode?)?: renaming.append((inode, to))
                case let slot?: setSlot(hash, slot)  // a starting torrent's note names the new folder
                case nil: break
                }
            case let .add(torrent):
                switch torrent.origin {
                case .metainfo:
                    start(torrent.infoHash, torrent.origin, placeholder: nil)
                case .magnet:
                    logger.info("magnet link listed", metadata: ["folder": "\(torrent.folder)", "infoHash": "\(torrent.infoHash)"])
                    adding.append((torrent.infoHash, LibraryFolder(
                        name: torrent.folder, infoHash: torrent.infoHash.hex,
                        content: .placeholder(name: torrent.name, state: "magnet", reason: Self.magnetReason))))
                }
            }
        }
        let inodes = fileSystem.update(removing: removing, renaming: renaming, adding: adding.map(\.1))
        for ((hash, _), inode) in zip(adding, inodes) {
            guard let torrent = catalog.torrent(hash) else { continue }
            start(hash, torrent.origin, placeholder: inode)
        }
        for (hash, source) in stopping { stop(hash, source) }
        firstBatchSeen = true
        publishNotes()
    }

    private func start(_ hash: InfoHash, _ origin: LibraryTorrent.Origin, placeholder: UInt64?) {
        nextAttempt += 1
        let attempt = nextAttempt
        setSlot(hash, .starting(attempt: attempt, placeholder: placeholder))
        let previous = chains[hash]
        let directory = CacheRoot.directory(root: cacheRoot, infoHash: hash)
        let starter = self.starter
        let post = self.post
        chains[hash] = Task {
            await previous?.value
            let result: Result<LibrarySource, LibraryError>
            do throws(LibraryError) {
                result = .success(try await starter(origin, directory))
            } catch {
                result = .failure(error)
            }
            let kept = await withCheckedContinuation { decision in
                post.yield(.started(hash, attempt: attempt, result, decision))
            }
            if !kept, case let .success(source) = result { await source.stop() }
        }
    }

    /// Whether the keeper keeps a finished start's source.
    private func started(_ hash: InfoHash, attempt: UInt64, _ result: Result<LibrarySource, LibraryError>) -> Bool {
        guard case let .starting(attempt: current, placeholder)? = slots[hash], current == attempt else {
            return false  // superseded or removed
        }
        guard closeWaiter == nil, let torrent = catalog.torrent(hash), torrent.isMagnet == (placeholder != nil) else {
            // Closing (or the library file now names it differently): the slot ends here, so
            // that close can finish, and whatever replaced it starts on its own.
            if let placeholder { _ = fileSystem.update(removing: [placeholder]) }
            setSlot(hash, nil)
            return false
        }
        defer { publishNotes() }
        let replaced = placeholder.map { [$0] } ?? []
        switch result {
        case let .success(source):
            let metainfo = source.content.metainfo
            let inode = fileSystem.update(removing: replaced, adding: [LibraryFolder(
                name: torrent.folder, infoHash: hash.hex, content: .torrent(metainfo, source.content))])
            setSlot(hash, .mounted(folder: inode[0], source: source))
            logger.info("torrent added", metadata: ["folder": "\(torrent.folder)", "infoHash": "\(hash)"])
            return true
        case let .failure(error):
            logger.error("torrent did not start", metadata: ["folder": "\(torrent.folder)", "error": "\(error)"])
            let inode = fileSystem.update(removing: replaced, adding: [LibraryFolder(
                name: torrent.folder, infoHash: hash.hex,
                content: .placeholder(name: torrent.name, state: "failed", reason: error.description))])
            setSlot(hash, .mounted(folder: inode[0], source: nil))
            return false
        }
    }

    private func stop(_ hash: InfoHash, _ source: LibrarySource) {
        let previous = chains[hash]
        chains[hash] = Task {
            await previous?.value
            await source.stop()
        }
    }

    /// At close: every mounted torrent stops; starts still running are refused when they end.
    private func stopEverything() {
        for (hash, slot) in slots {
            if case let .mounted(_, source?) = slot { stop(hash, source) }
            if case .starting(_, _?) = slot { chains[hash]?.cancel() }
        }
        for (hash, slot) in slots {
            if case .mounted = slot { setSlot(hash, nil) }
        }
    }

    private func publishNotes() {
        var problems = catalog.problems
        if catalog.ignoredFiles > 0 {
            problems.append(LibraryFileProblem(
                file: "(\(catalog.ignoredFiles) more files)",
                reason: "the library tracks at most \(LibraryCatalog.maxFiles) files"))
        }
        fileSystem.setNotes(pending: Array(startingNotes.values), problems: problems)
    }
}
