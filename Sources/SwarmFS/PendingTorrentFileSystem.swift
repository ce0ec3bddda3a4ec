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
/// is issued as soon as the file exists. Thread-safe: FUSE calls it from several threads.
///
/// Invariant: `state` goes from waiting to attached (or ended) once and never back; waiters
/// are woken exactly once when it leaves waiting.
public final class PendingTorrentFileSystem: MountedFileSystem {
    private enum State {
        case waiting(waiters: [DispatchSemaphore])
        case attached(SwarmFileSystem)
        case ended
    }

    private let state = Mutex<State>(.waiting(waiters: []))
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
        let waiters = state.withLock { state -> [DispatchSemaphore] in
            guard case let .waiting(waiters) = state else { return [] }
            state = .attached(fileSystem)
            return waiters
        }
        for waiter in waiters { waiter.signal() }
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
        let waiters = state.withLock { state -> [DispatchSemaphore] in
            guard case let .waiting(waiters) = state else { return [] }
            state = .ended
            return waiters
        }
        for waiter in waiters { waiter.signal() }
    }

    /// The torrent's filesystem once attached.
    public var attached: SwarmFileSystem? {
        state.withLock { if case let .attached(fileSystem) = $0 { fileSystem } else { nil } }
    }

    // MARK: - MountedFileSystem

    public func lookup(parent: UInt64, name: String) throws(FSError) -> FSAttributes {
        if let fileSystem = attached ?? waitForAttach(parent: parent) {
            return try fileSystem.lookup(parent: parent, name: name)
        }
        throw .notFound(inode: parent, name: name)
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

    /// Waits for the tree when `parent` is the root and the metadata is still awaited; nil when
    /// the wait ended without it (mount ending, `lookupWait` over) or `parent` is not the root.
    private func waitForAttach(parent: UInt64) -> SwarmFileSystem? {
        guard parent == InodeTable.rootInode else { return nil }
        let waiter = DispatchSemaphore(value: 0)
        let registered = state.withLock { state -> Bool in
            guard case var .waiting(waiters) = state else { return false }
            waiters.append(waiter)
            state = .waiting(waiters: waiters)
            return true
        }
        if registered {
            if let lookupWait {
                let nanoseconds = lookupWait.components.seconds * 1_000_000_000 + lookupWait.components.attoseconds / 1_000_000_000
                _ = waiter.wait(timeout: .now() + .nanoseconds(Int(clamping: nanoseconds)))
            } else {
                waiter.wait()
            }
        }
        return attached
    }
}
