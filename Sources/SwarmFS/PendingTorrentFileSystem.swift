#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import SwarmContent
import Synchronization

/// The filesystem of a magnet link's mount: an empty root until the torrent's metadata arrives,
/// then exactly the `SwarmFileSystem` a .torrent file would have given (`attach`), with the
/// kernel told that the root changed.
///
/// A lookup in the root before the metadata waits for it (up to `lookupWait`; nil: until it
/// arrives or the mount ends), so `swarmfs mount MAGNET /mnt && cat /mnt/FILE` works: the read
/// is issued as soon as the file exists. The FUSE layer waits through `lookupWhenReady`, which
/// parks no thread and which the caller can interrupt (Ctrl+C answers EINTR). Thread-safe: FUSE
/// calls it from several threads.
///
/// Invariant: `state` goes from waiting to attached (or ended) once and never back; each waiting
/// lookup is answered exactly once — when the state leaves waiting, at its time limit, or when
/// cancelled — by whoever removes it from `waiters` first.
public final class PendingTorrentFileSystem: MountedFileSystem {
    /// A lookup in the root waiting for the tree.
    private struct Waiter {
        let name: String
        let completion: @Sendable (Result<FSAttributes, FSError>) -> Void
    }

    private struct Waiting {
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 1
    }

    private enum State {
        case waiting(Waiting)
        case attached(SwarmFileSystem)
        case ended
    }

    private let state = Mutex<State>(.waiting(Waiting()))
    private let notifier = Mutex<(any FSChangeNotifier)?>(nil)
    private let empty = TorrentTree.empty
    private let ownership: FSOwnership
    private let lookupWait: Duration?
    private let waitingStatus: @Sendable () -> String

    /// A mount waiting for its metadata. `waitingStatus` is the status document (JSON) served on
    /// the root until then.
    public init(ownership: FSOwnership, lookupWait: Duration?, waitingStatus: @escaping @Sendable () -> String) {
        self.ownership = ownership
        self.lookupWait = lookupWait
        self.waitingStatus = waitingStatus
    }

    /// Receives the root's change when the tree appears (the FUSE mount's notifier).
    public func setNotifier(_ newNotifier: (any FSChangeNotifier)?) {
        notifier.withLock { $0 = newNotifier }
    }

    /// The torrent's filesystem, now that its metadata arrived: lookups waiting wake up, and the
    /// kernel forgets the empty root it may have cached.
    public func attach(_ fileSystem: SwarmFileSystem) {
        let waiters = state.withLock { state -> [Waiter] in
            guard case let .waiting(waiting) = state else { return [] }
            state = .attached(fileSystem)
            return Array(waiting.waiters.values)
        }
        // Answered before the kernel is told of the new entries, so no notification meets a
        // lookup of ours still in progress in the same directory.
        for waiter in waiters {
            waiter.completion(Result { () throws(FSError) in try fileSystem.lookup(parent: InodeTable.rootInode, name: waiter.name) })
        }
        guard let notifier = notifier.withLock({ $0 }) else { return }
        var offset: Int64 = 0
        while let entry = try? fileSystem.directoryEntry(of: InodeTable.rootInode, at: offset) {
            if entry.name != ".", entry.name != ".." {
                notifier.entryChanged(parent: InodeTable.rootInode, name: entry.name)
            }
            offset = entry.nextOffset
        }
        notifier.inodeChanged(InodeTable.rootInode)
    }

    /// The mount is going away before the metadata came: waiting lookups answer "no such file".
    public func end() {
        let waiters = state.withLock { state -> [Waiter] in
            guard case let .waiting(waiting) = state else { return [] }
            state = .ended
            return Array(waiting.waiters.values)
        }
        for waiter in waiters {
            waiter.completion(.failure(.notFound(inode: InodeTable.rootInode, name: waiter.name)))
        }
    }

    /// The torrent's filesystem once attached.
    public var attached: SwarmFileSystem? {
        state.withLock { if case let .attached(fileSystem) = $0 { fileSystem } else { nil } }
    }

    // MARK: - MountedFileSystem

    /// Waits on the caller's thread when the tree is awaited (see `lookupWhenReady`).
    public func lookup(parent: UInt64, name: String) throws(FSError) -> FSAttributes {
        if let fileSystem = attached { return try fileSystem.lookup(parent: parent, name: name) }
        let outcome = Mutex<Result<FSAttributes, FSError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        _ = lookupWhenReady(parent: parent, name: name) { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }

    public func lookupMayWait(in parent: UInt64) -> Bool {
        guard parent == InodeTable.rootInode else { return false }
        return state.withLock { if case .waiting = $0 { true } else { false } }
    }

    /// A lookup in the root while the tree is awaited is answered when it arrives, or "no such
    /// file" when the mount ends or `lookupWait` runs out; any other is answered at once.
    public func lookupWhenReady(parent: UInt64, name: String,
                                completion: @escaping @Sendable (Result<FSAttributes, FSError>) -> Void) -> ReadTicket {
        let id: UInt64? = parent != InodeTable.rootInode ? nil : state.withLock { state in
            guard case var .waiting(waiting) = state else { return nil }
            let id = waiting.nextID
            waiting.nextID += 1
            waiting.waiters[id] = Waiter(name: name, completion: completion)
            state = .waiting(waiting)
            return id
        }
        guard let id else {
            let answer: Result<FSAttributes, FSError> = if let fileSystem = attached {
                Result { () throws(FSError) in try fileSystem.lookup(parent: parent, name: name) }
            } else {
                .failure(.notFound(inode: parent, name: name))
            }
            completion(answer)
            return .completed
        }
        if let lookupWait {
            let nanoseconds = lookupWait.components.seconds * 1_000_000_000 + lookupWait.components.attoseconds / 1_000_000_000
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds))) { [weak self] in
                self?.answerWaiter(id, .failure(.notFound(inode: parent, name: name)))
            }
        }
        return ReadTicket { [weak self] in
            self?.answerWaiter(id, .failure(.interrupted(operation: "lookup of '\(name)' while the metadata is awaited")))
        }
    }

    public func attributes(of inode: UInt64) throws(FSError) -> FSAttributes {
        if let fileSystem = attached { return try fileSystem.attributes(of: inode) }
        return try empty.table.attributes(of: inode, ownership: ownership)
    }

    public func directoryEntry(of directory: UInt64, at offset: Int64) throws(FSError) -> FSDirectoryEntry? {
        if let fileSystem = attached { return try fileSystem.directoryEntry(of: directory, at: offset) }
        return try empty.table.entry(of: directory, at: offset)
    }

    public func checkDirectory(_ inode: UInt64) throws(FSError) {
        if let fileSystem = attached { return try fileSystem.checkDirectory(inode) }
        guard inode == InodeTable.rootInode else { throw .notFound(inode: inode, name: nil) }
    }

    public func statistics() -> (blockSize: UInt64, blocks: UInt64, files: UInt64, nameMax: UInt64) {
        attached?.statistics() ?? (4096, 0, 1, 255)
    }

    public func checkAccess(_ inode: UInt64, mask: Int32) throws(FSError) {
        if let fileSystem = attached { return try fileSystem.checkAccess(inode, mask: mask) }
        guard inode == InodeTable.rootInode else { throw .notFound(inode: inode, name: nil) }
        if mask & W_OK != 0 { throw .readOnly(operation: "access for writing") }
    }

    public func open(_ inode: UInt64, flags: Int32) throws(FSError) -> (handle: UInt64, keepCache: Bool) {
        guard let fileSystem = attached else { throw .notFound(inode: inode, name: nil) }
        return try fileSystem.open(inode, flags: flags)
    }

    public func release(_ handle: UInt64) {
        attached?.release(handle)
    }

    public func releaseAll() {
        attached?.releaseAll()
    }

    public func read(_ handle: UInt64, offset: Int64, size: Int,
                     completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void)
        throws(FSError) -> ReadTicket {
        guard let fileSystem = attached else { throw .badHandle(handle) }
        return try fileSystem.read(handle, offset: offset, size: size, completion: completion)
    }

    public func attributeNames(of inode: UInt64) throws(FSError) -> [String] {
        if let fileSystem = attached { return try fileSystem.attributeNames(of: inode) }
        guard inode == InodeTable.rootInode else { throw .notFound(inode: inode, name: nil) }
        return [FSAttributeName.status]
    }

    public func attribute(_ name: String, of inode: UInt64) throws(FSError) -> [UInt8] {
        if let fileSystem = attached { return try fileSystem.attribute(name, of: inode) }
        guard inode == InodeTable.rootInode, name == FSAttributeName.status else {
            throw .noAttribute(inode: inode, name: name)
        }
        return Array(waitingStatus().utf8)
    }

    /// The root's entries change once (when the tree appears): until then the kernel must not
    /// keep its negative lookups.
    public func entriesMayChange(in directory: UInt64) -> Bool {
        attached == nil && directory == InodeTable.rootInode
    }

    /// Answers waiting lookup `id` with `result`, unless it was answered already.
    private func answerWaiter(_ id: UInt64, _ result: Result<FSAttributes, FSError>) {
        let waiter = state.withLock { state -> Waiter? in
            guard case var .waiting(waiting) = state, let waiter = waiting.waiters.removeValue(forKey: id) else { return nil }
            state = .waiting(waiting)
            return waiter
        }
        waiter?.completion(result)
    }
}
