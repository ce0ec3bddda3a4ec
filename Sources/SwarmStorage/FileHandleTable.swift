import Glibc
import Synchronization

/// The open file descriptors of one store: a bounded LRU (torrents can have 20,000 files and the
/// fd limit is often 1,024).
///
/// Invariants:
/// - A descriptor in use by a thread is *leased* (counted) and never closed under it — closing it
///   would let the kernel reuse the number for another file mid-`pread`.
/// - A file is *pinned* (counted: one pin per open reader of the file) while FUSE replies may
///   still splice from its descriptor; the LRU never closes a pinned file's descriptor. Pins are
///   counted apart from the entries, so a pin taken before the file is first opened holds too.
/// - Files are opened only through `ConfinedPath` below `root`: no symlink followed, nothing but
///   regular files opened.
final class FileHandleTable: Sendable {
    /// How a caller needs the file.
    enum Access {
        /// Read existing bytes; a missing file is an error.
        case read
        /// Write: create the file (and its directories) and extend it, sparse, to `length`.
        case write(length: Int64)
    }

    private struct Entry {
        var fd: Int32
        var leases: Int
        var dirty: Bool
        /// Whether the file was already extended to its full length by this store.
        var sized: Bool
        /// False when only a read-only open succeeded (an adopted file we may not write).
        var canWrite: Bool
        var lastUse: UInt64
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        /// Pin count per file (files with no pin are absent).
        var pins: [Int: Int] = [:]
        var tick: UInt64 = 0
        var closed = false
    }

    private let state = Mutex(State())
    private let capacity: Int
    private let writable: Bool
    private let root: String
    private let closesUnpinned: Bool

    /// - Parameters:
    ///   - root: the directory every file lives under (symlinks below it are never followed).
    ///   - closesUnpinned: close a file's descriptor as soon as its last pin ends (and no thread
    ///     uses it), so the next reader opens the file as it is on disk now — a folder someone
    ///     else may edit — instead of an old inode kept by the LRU.
    init(root: String, capacity: Int, writable: Bool, closesUnpinned: Bool = false) {
        self.root = root
        self.capacity = max(1, capacity)
        self.writable = writable
        self.closesUnpinned = closesUnpinned
    }

    /// Returns an fd for `file` (at `components` below the root; `path` names it in errors) that
    /// stays open until `release(file)`.
    func lease(file: Int, components: [String], path: String, access: Access,
               piece: Int?) throws(StorageError) -> Int32 {
        let result: Result<Int32, StorageError> = state.withLock { state in
            if state.closed {
                return .failure(.io(operation: "open", path: path, piece: piece, errno: EBADF))
            }
            state.tick &+= 1
            if var entry = state.entries[file] {
                if case .write = access, !entry.canWrite {
                    return .failure(.io(operation: "open for writing", path: path, piece: piece, errno: EACCES))
                }
                if case let .write(length) = access, !entry.sized {
                    if let error = Self.extend(entry.fd, to: length, path: path, piece: piece) {
                        return .failure(error)
                    }
                    entry.sized = true
                }
                entry.leases += 1
                entry.lastUse = state.tick
                state.entries[file] = entry
                return .success(entry.fd)
            }
            let opened = openFile(components: components, path: path, access: access, piece: piece)
            guard case let .success((fd, canWrite)) = opened else {
                if case let .failure(error) = opened { return .failure(error) }
                return .failure(.io(operation: "open", path: path, piece: piece, errno: EIO))
            }
            if state.entries.count >= capacity {
                evictLeastRecentlyUsed(&state)
            }
            var sized = false
            if case .write = access { sized = true }
            state.entries[file] = Entry(fd: fd, leases: 1, dirty: false,
                                        sized: sized, canWrite: canWrite, lastUse: state.tick)
            return .success(fd)
        }
        return try result.get()
    }

    /// Ends a lease from `lease`; `wrote` marks the file for the next `syncDirty`.
    func release(file: Int, wrote: Bool) {
        let closeNow: Int32? = state.withLock { state in
            guard var entry = state.entries[file] else { return nil }
            entry.leases -= 1
            if wrote { entry.dirty = true }
            if state.closed && entry.leases <= 0 {
                // closeAll ran while this lease was out: the last holder closes the fd.
                state.entries[file] = nil
                return entry.fd
            }
            state.entries[file] = entry
            return nil
        }
        if let closeNow { _ = close(closeNow) }
    }

    /// Adds a pin: the file's fd (once opened) is not closed by the LRU until every pin is undone
    /// with `unpin` (for replies that outlive any lease). Takes the lock only; never blocks on I/O.
    func pin(file: Int) {
        state.withLock { state in
            state.pins[file, default: 0] += 1
        }
    }

    /// Undoes one `pin`; once none is left the LRU may close the fd again (or, with
    /// `closesUnpinned`, it is closed now when no thread uses it). An unpin without a pin is
    /// ignored.
    func unpin(file: Int) {
        let closeNow: Int32? = state.withLock { state in
            guard let count = state.pins[file] else { return nil }
            if count > 1 {
                state.pins[file] = count - 1
                return nil
            }
            state.pins[file] = nil
            guard closesUnpinned, let entry = state.entries[file], entry.leases <= 0, !entry.dirty else { return nil }
            state.entries[file] = nil
            return entry.fd
        }
        if let closeNow { _ = close(closeNow) }
    }

    /// Pins held on the file right now (for tests).
    func pinCount(file: Int) -> Int {
        state.withLock { $0.pins[file] ?? 0 }
    }

    /// fdatasyncs every file written since the last call. Each fd is leased during its sync so it
    /// cannot be closed under it; a file that fails to sync stays dirty.
    func syncDirty(path: (Int) -> String) throws(StorageError) {
        let dirty: [(file: Int, fd: Int32)] = state.withLock { state in
            var list: [(file: Int, fd: Int32)] = []
            for (file, entry) in state.entries where entry.dirty {
                list.append((file, entry.fd))
                state.entries[file]?.dirty = false
                state.entries[file]?.leases += 1
            }
            return list
        }
        var firstError: StorageError?
        for item in dirty {
            var failed = false
            if fdatasync(item.fd) != 0 {
                failed = true
                if firstError == nil {
                    firstError = StorageError.fromWrite("fdatasync", path: path(item.file), piece: nil, errno: errno)
                }
            }
            release(file: item.file, wrote: failed)
        }
        if let firstError { throw firstError }
    }

    /// The fds open right now (for `fstat` without re-opening), leased for the duration of `body`.
    func withOpenDescriptors<T>(_ body: ([Int: Int32]) -> T) -> T {
        let snapshot: [Int: Int32] = state.withLock { state in
            var map: [Int: Int32] = [:]
            for (file, entry) in state.entries {
                map[file] = entry.fd
                state.entries[file]?.leases += 1
            }
            return map
        }
        defer {
            for file in snapshot.keys { release(file: file, wrote: false) }
        }
        return body(snapshot)
    }

    /// Number of fds open (for tests of the bound).
    var openCount: Int { state.withLock { $0.entries.count } }

    /// Closes every fd without syncing (a final record claims unsynced data for this boot only,
    /// see `Checkpointer`); later leases fail. An fd another thread is using right now is closed
    /// by that thread's `release`, never under it.
    func closeAll() {
        let fds: [Int32] = state.withLock { state in
            state.closed = true
            var list: [Int32] = []
            for (file, entry) in state.entries where entry.leases <= 0 {
                list.append(entry.fd)
                state.entries[file] = nil
            }
            return list
        }
        for fd in fds { _ = close(fd) }
    }

    // MARK: - Private

    /// Opens the file (confined below the root); returns the fd and whether it is open for writing.
    private func openFile(components: [String], path: String, access: Access,
                          piece: Int?) -> Result<(Int32, Bool), StorageError> {
        switch access {
        case .read:
            do throws(StorageError) {
                do throws(StorageError) {
                    let fd = try ConfinedPath.openFile(root: root, components: components,
                                                       flags: writable ? O_RDWR : O_RDONLY)
                    return .success((fd, writable))
                } catch let .io(_, _, _, code) where writable && (code == EACCES || code == EROFS || code == EPERM) {
                    // A file we may read but not write (adopted from elsewhere): serve it anyway.
                    let fd = try ConfinedPath.openFile(root: root, components: components, flags: O_RDONLY)
                    return .success((fd, false))
                }
            } catch .missingFile {
                // Whichever component is missing, it is this file that the cache lacks.
                return .failure(.missingFile(path: path, piece: piece))
            } catch {
                return .failure(error.attributed(to: piece))
            }
        case let .write(length):
            guard writable else { return .failure(.readOnly(path: path)) }
            let fd: Int32
            do throws(StorageError) {
                fd = try ConfinedPath.openFile(root: root, components: components, flags: O_RDWR | O_CREAT)
            } catch {
                return .failure(error.attributed(to: piece))
            }
            if let error = Self.extend(fd, to: length, path: path, piece: piece) {
                close(fd)
                return .failure(error)
            }
            return .success((fd, true))
        }
    }

    /// Extends a file, sparse, to `length` (never shrinks: a longer file may be someone's data).
    private static func extend(_ fd: Int32, to length: Int64, path: String, piece: Int?) -> StorageError? {
        switch PosixIO.status(fd) {
        case let .failure(error):
            return .io(operation: "fstat", path: path, piece: piece, errno: error.code)
        case let .success(info):
            if Int64(info.st_size) >= length { return nil }
            while ftruncate(fd, off_t(length)) != 0 {
                if errno != EINTR { return .fromWrite("ftruncate", path: path, piece: piece, errno: errno) }
            }
            return nil
        }
    }

    /// Closes the least recently used fd that no thread holds. A dirty one is synced first so a
    /// later `syncDirty` never misses data written through it. If every fd is in use the table
    /// grows past its capacity for a moment rather than block.
    private func evictLeastRecentlyUsed(_ state: inout State) {
        var victim: Int?
        var oldest = UInt64.max
        for (file, entry) in state.entries where entry.leases == 0 && state.pins[file] == nil && entry.lastUse < oldest {
            victim = file
            oldest = entry.lastUse
        }
        guard let victim, let entry = state.entries[victim] else { return }
        // A dirty fd that cannot be synced stays open (and dirty) so `syncDirty` reports the error.
        if entry.dirty && fdatasync(entry.fd) != 0 { return }
        state.entries[victim] = nil
        _ = close(entry.fd)
    }
}
