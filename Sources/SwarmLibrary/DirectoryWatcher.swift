import Foundation
import Logging
import SwarmMetainfo
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Watches the library folder with inotify on a thread of its own and reports, in batches, what
/// each changed `*.torrent`/`*.magnet` file now holds. A thin adapter: what the changes mean is
/// `LibraryCatalog`'s business.
///
/// The first batch is a scan of the whole folder (taken after the watch is in place, so nothing
/// written meanwhile is missed). After that, events are coalesced: a batch is sent once the
/// folder was quiet for `quietPeriod`, or `longestDelay` after its first event, so a file
/// dropped in shows within a fraction of a second and a burst of files costs one batch. When the
/// kernel's event queue overflowed, the folder is scanned again.
public final class DirectoryWatcher: Sendable {
    public typealias Batch = [String: LibraryFileObservation]

    public let directory: String
    static let quietPeriod: Int32 = 30
    static let longestDelay: Duration = .milliseconds(250)

    private let inotify: Int32
    /// Written to wake the thread up for `stop()`.
    private let wakeup: (read: Int32, write: Int32)
    private let onBatch: @Sendable (Batch) -> Void
    private let logger: Logger
    private let finished = Mutex(false)

    private static let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE
        | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

    /// Starts watching `directory`; `onBatch` is called on the watcher's thread, first with the
    /// whole folder, then with each batch of changes.
    public init(directory: String, logger: Logger, onBatch: @escaping @Sendable (Batch) -> Void) throws(LibraryError) {
        self.directory = directory
        self.logger = logger
        self.onBatch = onBatch
        let fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { throw .watch(directory: directory, reason: String(cString: strerror(errno))) }
        guard inotify_add_watch(fd, directory, Self.mask) >= 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .watch(directory: directory, reason: reason)
        }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .watch(directory: directory, reason: reason)
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        inotify = fd
        wakeup = (ends[0], ends[1])
        let thread = Thread { [self] in run() }
        thread.name = "swarmfs-library-watch"
        thread.start()
    }

    /// Stops watching and waits for the thread to end (no batch is delivered after this).
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wakeup.write, &byte, 1)
        while !finished.withLock({ $0 }) { usleep(1000) }
        close(inotify)
        close(wakeup.read)
        close(wakeup.write)
    }

    // MARK: The thread

    private func run() {
        defer { finished.withLock { $0 = true } }
        var known = Set<String>()
        // Always delivered, even empty: the library waits for it before the mount is ready.
        onBatch(scan(known: &known))
        var pending: [String: Bool] = [:]  // name -> may be incomplete (created, not yet closed)
        var rescan = false
        var batchStart: ContinuousClock.Instant?
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            var timeout: Int32 = -1
            if let batchStart {
                let left = Self.longestDelay - (ContinuousClock.now - batchStart)
                let leftMilliseconds = Int32(clamping: left.components.seconds * 1000
                    + left.components.attoseconds / 1_000_000_000_000_000)
                timeout = max(0, min(Self.quietPeriod, leftMilliseconds))
            }
            var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakeup.read, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.error("library watch failed", metadata: ["directory": "\(directory)", "errno": "\(errno)"])
                return
            }
            if fds[1].revents != 0 { return }
            if ready == 0 || (batchStart.map { ContinuousClock.now - $0 >= Self.longestDelay } ?? false) {
                if rescan {
                    var batch = scan(known: &known)
                    for (name, mayBeIncomplete) in pending where batch[name] == nil {
                        batch[name] = observe(name, mayBeIncomplete: mayBeIncomplete, known: &known)
                    }
                    deliver(batch)
                } else if !pending.isEmpty {
                    var batch: Batch = [:]
                    for (name, mayBeIncomplete) in pending {
                        batch[name] = observe(name, mayBeIncomplete: mayBeIncomplete, known: &known)
                    }
                    deliver(batch)
                }
                pending.removeAll()
                rescan = false
                batchStart = nil
                if ready == 0 { continue }
            }
            guard fds[0].revents != 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            guard count > 0 else { continue }
            var offset = 0
            let header = MemoryLayout<inotify_event>.size
            while offset + header <= count {
                let (mask, length) = buffer.withUnsafeBytes { raw in
                    (raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                     Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let nameBytes = buffer[(offset + header)..<min(count, offset + header + length)]
                offset += header + length
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    rescan = true
                } else if mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) != 0 {
                    logger.warning("the library folder went away: what it held stays mounted, changes are no longer seen",
                                   metadata: ["directory": "\(directory)"])
                } else {
                    let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                    guard LibraryCatalog.isLibraryFile(name) else { continue }
                    let createdOnly = mask & UInt32(IN_CREATE) != 0
                    pending[name] = createdOnly && (pending[name] ?? true)
                }
                if batchStart == nil { batchStart = .now }
            }
        }
    }

    private func deliver(_ batch: Batch) {
        if !batch.isEmpty { onBatch(batch) }
    }

    /// Every library file in the folder, plus `absent` for each known one that is gone.
    private func scan(known: inout Set<String>) -> Batch {
        var batch: Batch = [:]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let present = Set(names.filter(LibraryCatalog.isLibraryFile))
        for name in present { batch[name] = observe(name, mayBeIncomplete: false, known: &known) }
        for name in known.subtracting(present) {
            known.remove(name)
            batch[name] = LibraryFileObservation(.absent)
        }
        return batch
    }

    private func observe(_ name: String, mayBeIncomplete: Bool, known: inout Set<String>) -> LibraryFileObservation {
        let snapshot = Self.snapshot(of: directory + "/" + name, isMagnet: name.lowercased().hasSuffix(".magnet"))
        if snapshot == .absent { known.remove(name) } else { known.insert(name) }
        return LibraryFileObservation(snapshot, mayBeIncomplete: mayBeIncomplete)
    }

    /// What the file at `path` holds now. Symbolic links are followed (a library of links to
    /// torrents kept elsewhere works), but only a regular file is read, never a FIFO or device,
    /// and never more than the size limit.
    static func snapshot(of path: String, isMagnet: Bool) -> LibraryFileSnapshot {
        let limit = isMagnet ? LibraryCatalog.maxMagnetFileSize : Metainfo.maxTorrentFileSize
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            return code == ENOENT || code == ENOTDIR ? .absent : .unreadable(String(cString: strerror(code)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .unreadable(String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else { return .unreadable("not a regular file") }
        guard Int64(info.st_size) <= Int64(limit) else { return .unreadable("larger than \(limit) bytes") }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .unreadable(String(cString: strerror(errno)))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit { return .unreadable("larger than \(limit) bytes") }
        }
        return .contents(bytes)
    }
}
