import SwarmContent

/// What the FUSE layer serves: a read-only tree with reads dispatched to content sources.
/// `SwarmFileSystem` shows one torrent; `LibraryFileSystem` a root of many. Thread-safe: FUSE
/// calls it from several threads at once.
public protocol MountedFileSystem: AnyObject, Sendable {
    /// The node `name` in `parent` and its attributes.
    func lookup(parent: UInt64, name: String) throws(FSError) -> FSAttributes
    /// The attributes of `inode`.
    func attributes(of inode: UInt64) throws(FSError) -> FSAttributes
    /// The listing entry at `offset` of `directory` (nil past the end).
    func directoryEntry(of directory: UInt64, at offset: Int64) throws(FSError) -> FSDirectoryEntry?
    /// Checks that `inode` is a directory that can be listed.
    func checkDirectory(_ inode: UInt64) throws(FSError)
    /// Whole-filesystem numbers for `statfs`: sizes in `blockSize` units, nothing free.
    func statistics() -> (blockSize: UInt64, blocks: UInt64, files: UInt64, nameMax: UInt64)
    /// Checks an `access(2)` request: anything asking for write is refused.
    func checkAccess(_ inode: UInt64, mask: Int32) throws(FSError)
    /// Opens file `inode` for reading; returns the handle and whether the kernel may keep its
    /// cached pages across opens.
    func open(_ inode: UInt64, flags: Int32) throws(FSError) -> (handle: UInt64, keepCache: Bool)
    /// Closes a handle.
    func release(_ handle: UInt64)
    /// Closes every handle still open (the filesystem is going away).
    func releaseAll()
    /// Reads up to `size` bytes at `offset` through `handle`; `completion` runs exactly once.
    func read(_ handle: UInt64, offset: Int64, size: Int,
              completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void)
        throws(FSError) -> ReadTicket
    /// The names of the extended attributes `inode` has.
    func attributeNames(of inode: UInt64) throws(FSError) -> [String]
    /// The value of extended attribute `name` of `inode`.
    func attribute(_ name: String, of inode: UInt64) throws(FSError) -> [UInt8]
    /// Whether the entries of `directory` may change while mounted. The kernel then caches its
    /// entries, negative lookups and attributes only briefly and never caches its listing; the
    /// filesystem tells it of each change too (see `FSChangeNotifier`), the short timeout only
    /// covers a lookup answered while the change was being made.
    func entriesMayChange(in directory: UInt64) -> Bool
    /// Whether a lookup in `parent` may have to wait (a magnet's root before its metadata): the
    /// FUSE layer then asks `lookupWhenReady` instead of `lookup`, so that no thread of its own
    /// is parked and the caller can interrupt the wait.
    func lookupMayWait(in parent: UInt64) -> Bool
    /// `lookup`, answered through `completion` (exactly once) when it can be; cancelling the
    /// ticket answers `.interrupted` if it had not been answered yet.
    func lookupWhenReady(parent: UInt64, name: String,
                         completion: @escaping @Sendable (Result<FSAttributes, FSError>) -> Void) -> ReadTicket
}

extension MountedFileSystem {
    public func entriesMayChange(in directory: UInt64) -> Bool { false }

    public func lookupMayWait(in parent: UInt64) -> Bool { false }

    /// Answers at once with `lookup`.
    public func lookupWhenReady(parent: UInt64, name: String,
                                completion: @escaping @Sendable (Result<FSAttributes, FSError>) -> Void) -> ReadTicket {
        do {
            completion(.success(try lookup(parent: parent, name: name)))
        } catch {
            completion(.failure(error))
        }
        return .completed
    }
}

/// Receives changes to the tree the kernel may have cached, so that it forgets them
/// (`fuse_lowlevel_notify_inval_entry`/`_inval_inode`). Calls must not block the caller: the
/// FUSE layer sends them from a thread of its own, never from a worker holding a request.
public protocol FSChangeNotifier: Sendable {
    /// Entry `name` of directory `parent` appeared, disappeared or now names another inode.
    func entryChanged(parent: UInt64, name: String)
    /// The attributes or listing of `inode` changed.
    func inodeChanged(_ inode: UInt64)
}

/// Extended attribute names the filesystems answer.
public enum FSAttributeName {
    /// Per file: percentage of the file's bytes verified, e.g. "42.5".
    public static let progress = "user.swarmfs.progress"
    /// Per file: the pieces that hold it, "FIRST-LAST" (empty files: "none").
    public static let pieces = "user.swarmfs.pieces"
    /// On the root (and, in a library, on each torrent's folder): the status JSON that
    /// `swarmfs status` shows.
    public static let status = "user.swarmfs.status"
}
