#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import SwarmMetainfo
import SwarmSession
import SwarmStorage
import Synchronization

/// A `TorrentContentSource` over a directory that already holds the complete payload in the
/// torrent's layout (`DIR/<path...>`): serves a finished cache without a swarm, and lets tests
/// exercise the filesystem without the engine.
///
/// Nothing is served unchecked: the first read of a piece hashes it from the files (off the
/// caller's thread) and a piece that does not match the torrent fails its reads with EIO, so a
/// cache damaged behind our back is never passed off as the torrent. Mounting stays instant
/// whatever the payload's size, and each piece is hashed once.
///
/// Reads can be *held* (parked until released) — programmatically with `hold()`/`release()`, or
/// while a marker file exists — so tests can block readers, interrupt them, and unmount under
/// them. Held reads complete on a background queue; others complete on the caller's thread.
public final class DirectoryContentSource: TorrentContentSource {
    public let metainfo: Metainfo
    /// The download DIR holding the payload.
    public let directory: String
    private let holdMarker: String?
    private let state: Mutex<State>
    private let queue = DispatchQueue(label: "swarmfs.directory-source")
    /// Where pieces are read for their hash check (read-only: nothing is created or changed).
    private let store: PieceStore?

    private struct OpenedFile {
        let fd: Int32
        let size: Int64
    }

    private struct PendingRead {
        let fileIndex: Int
        let offset: Int64
        let length: Int
        let completion: @Sendable (Result<ReadableSpan, ContentReadError>) -> Void
    }

    private struct State {
        var files: [Int: OpenedFile] = [:]
        /// Pieces hashed and found to match the torrent.
        var verified: Bitfield
        /// Pieces hashed and found damaged (or unreadable): their reads fail.
        var damaged: Set<Int> = []
        var nextReader: UInt64 = 1
        var openReaders: Set<ReaderID> = []
        var held = false
        var pending: [UInt64: PendingRead] = [:]
        var nextPending: UInt64 = 1
        var isShutDown = false
        var pollerRunning = false
        /// Per-file progress as of `verified.setCount` verified pieces: pieces only ever become
        /// verified, so the count tells when it is stale.
        var progress: Progress?
    }

    /// What `statusSnapshot` derives from the verified pieces and the files: O(files + pieces)
    /// to compute, so computed once per change, not on every status attribute read
    /// (`getfattr -R` reads one per file).
    private struct Progress {
        let verifiedPieces: Int
        let files: [FileStatus]
        let verifiedBytes: Int64
        let diskBytes: Int64
    }

    /// Serves `metainfo`'s files from `directory`. With `holdReadsWhileExists`, reads wait while
    /// that file exists (checked every 20 ms).
    public init(metainfo: Metainfo, directory: String, holdReadsWhileExists: String? = nil) {
        self.metainfo = metainfo
        self.directory = directory
        holdMarker = holdReadsWhileExists
        state = Mutex(State(verified: Bitfield(count: metainfo.layout.pieceCount)))
        // A layout PieceStore refuses (unsafe paths) is one whose files cannot be opened either.
        store = try? PieceStore(layout: metainfo.layout, directory: directory, mode: .readOnly, maxOpenFiles: 64)
    }

    deinit {
        for file in state.withLock({ $0.files.values }) { close(file.fd) }
    }

    /// Parks every read from now on until `release()`.
    public func hold() {
        state.withLock { $0.held = true }
    }

    /// Serves the parked reads and stops holding.
    public func release() {
        let pending = state.withLock { state in
            state.held = false
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for read in pending { serve(read) }
    }

    /// Number of reads parked right now.
    public var heldReadCount: Int { state.withLock { $0.pending.count } }

    /// Readers currently open.
    public var openReaderCount: Int { state.withLock { $0.openReaders.count } }

    /// Fails parked reads with `.shutdown`, refuses new ones, closes the files.
    public func shutdown() {
        let (pending, files) = state.withLock { state in
            state.isShutDown = true
            defer { state.pending.removeAll(); state.files.removeAll() }
            return (Array(state.pending.values), Array(state.files.values))
        }
        for read in pending { read.completion(.failure(.shutdown)) }
        for file in files { close(file.fd) }
    }

    public func openReader(fileIndex: Int) -> ReaderID {
        state.withLock { state in
            let reader = ReaderID(rawValue: state.nextReader)
            state.nextReader += 1
            state.openReaders.insert(reader)
            return reader
        }
    }

    public func closeReader(_ reader: ReaderID) {
        _ = state.withLock { $0.openReaders.remove(reader) }
    }

    public func read(_ reader: ReaderID, fileIndex: Int, offset: Int64, length: Int,
                     completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void) -> ReadTicket {
        let files = metainfo.layout.files
        guard files.indices.contains(fileIndex), offset >= 0, length >= 0,
              offset + Int64(length) <= Int64(files[fileIndex].length) else {
            completion(.failure(.invalidRange(file: fileIndex, offset: offset, length: length)))
            return .completed
        }
        let read = PendingRead(fileIndex: fileIndex, offset: offset, length: length, completion: completion)
        let markerExists = holdMarker.map { access($0, F_OK) == 0 } ?? false
        enum Decision { case serve, shutDown, parked(UInt64, startPoller: Bool) }
        let decision: Decision = state.withLock { state in
            if state.isShutDown { return .shutDown }
            guard state.held || markerExists else { return .serve }
            let id = state.nextPending
            state.nextPending += 1
            state.pending[id] = read
            let startPoller = markerExists && !state.pollerRunning
            if startPoller { state.pollerRunning = true }
            return .parked(id, startPoller: startPoller)
        }
        switch decision {
        case .serve:
            serve(read)
            return .completed
        case .shutDown:
            completion(.failure(.shutdown))
            return .completed
        case let .parked(id, startPoller):
            if startPoller { schedulePoll() }
            return ReadTicket { [weak self] in
                guard let self else { return }
                let cancelled = self.state.withLock { $0.pending.removeValue(forKey: id) }
                cancelled?.completion(.failure(.cancelled))
            }
        }
    }

    public func statusSnapshot() -> SessionStatus {
        let layout = metainfo.layout
        let (verified, cached, pending) = state.withLock { state in
            (state.verified, state.progress, state.pending.count)
        }
        let progress: Progress
        if let cached, cached.verifiedPieces == verified.setCount {
            progress = cached
        } else {
            progress = computeProgress(verified: verified)
            state.withLock { state in
                if (state.progress?.verifiedPieces ?? -1) < progress.verifiedPieces { state.progress = progress }
            }
        }
        return SessionStatus(
            infoHash: metainfo.infoHash.hex, name: metainfo.name, totalLength: Int64(layout.totalLength),
            verifiedBytes: progress.verifiedBytes, verifiedPieces: progress.verifiedPieces,
            pieceCount: layout.pieceCount, downloadedBytes: 0, uploadedBytes: 0, downloadRate: 0,
            uploadRate: 0, peers: 0, cacheDiskBytes: progress.diskBytes, pendingReads: pending,
            piecesWaitingForReaders: 0, files: progress.files)
    }

    private func computeProgress(verified: Bitfield) -> Progress {
        let layout = metainfo.layout
        var verifiedTotal: Int64 = 0
        var diskTotal: Int64 = 0
        let files = metainfo.userFiles.map { file in
            diskTotal += min(Int64(file.length), (try? opened(file.index).size) ?? 0)
            let bytes = Self.verifiedBytes(of: file.index, in: layout, verified: verified)
            verifiedTotal += bytes
            return FileStatus(path: file.path.joined(separator: "/"), length: Int64(file.length),
                              verifiedBytes: bytes)
        }
        return Progress(verifiedPieces: verified.setCount, files: files, verifiedBytes: verifiedTotal,
                        diskBytes: diskTotal)
    }

    /// Bytes of file `index` that lie in verified pieces.
    private static func verifiedBytes(of index: Int, in layout: FileLayout, verified: Bitfield) -> Int64 {
        let file = layout.files[index]
        guard file.length > 0 else { return 0 }
        var bytes: Int64 = 0
        for piece in layout.pieces(file: index, offset: 0, length: Int64(file.length)) where verified[piece] {
            for slice in layout.slices(piece: piece) where slice.fileIndex == index {
                bytes += Int64(slice.length)
            }
        }
        return bytes
    }

    // MARK: Private

    /// Serves a read whose pieces are checked at once; otherwise checks them on a background
    /// queue first (hashing reads the disk: the caller may be a FUSE thread).
    private func serve(_ read: PendingRead) {
        let pieces = read.length > 0
            ? metainfo.layout.pieces(file: read.fileIndex, offset: read.offset, length: Int64(read.length))
            : 0..<0
        let unchecked = state.withLock { state in pieces.filter { !state.verified[$0] } }
        guard !unchecked.isEmpty else {
            reply(read)
            return
        }
        DispatchQueue.global().async { [self] in
            for piece in unchecked {
                if let failure = check(piece, for: read.fileIndex) {
                    read.completion(.failure(failure))
                    return
                }
            }
            reply(read)
        }
    }

    /// Hashes `piece` from the files once; nil when it matches the torrent.
    private func check(_ piece: Int, for fileIndex: Int) -> ContentReadError? {
        let known = state.withLock { state -> Bool? in
            state.verified[piece] ? true : (state.damaged.contains(piece) ? false : nil)
        }
        if let known {
            return known ? nil : damagedError(piece, file: fileIndex, detail: "does not match the torrent")
        }
        guard let store else { return damagedError(piece, file: fileIndex, detail: "cannot be opened") }
        let matches: Bool
        do throws(StorageError) {
            matches = try store.storedPieceMatches(piece, expected: metainfo.pieceHash(piece))
        } catch {
            state.withLock { _ = $0.damaged.insert(piece) }
            return .storage(file: fileIndex, errno: error.errnoValue, detail: "\(error)")
        }
        state.withLock { state in
            if matches { state.verified[piece] = true } else { state.damaged.insert(piece) }
        }
        return matches ? nil : damagedError(piece, file: fileIndex, detail: "does not match the torrent")
    }

    private func damagedError(_ piece: Int, file: Int, detail: String) -> ContentReadError {
        .storage(file: file, errno: EIO, detail: "piece \(piece) of the cache in \(directory) \(detail)")
    }

    private func reply(_ read: PendingRead) {
        do {
            let file = try opened(read.fileIndex)
            guard read.offset + Int64(read.length) <= file.size else {
                read.completion(.failure(.storage(file: read.fileIndex, errno: EIO,
                                                  detail: "cache file holds only \(file.size) bytes")))
                return
            }
            read.completion(.success(ReadableSpan(fd: file.fd, offset: read.offset, length: read.length)))
        } catch {
            read.completion(.failure(error))
        }
    }

    /// The open descriptor of file `index`, opened once.
    private func opened(_ index: Int) throws(ContentReadError) -> OpenedFile {
        if let file = state.withLock({ $0.files[index] }) { return file }
        let path = ([directory] + metainfo.layout.files[index].path).joined(separator: "/")
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .storage(file: index, errno: errno, detail: "cannot open \(path)")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw .storage(file: index, errno: code, detail: "cannot stat \(path)")
        }
        let file = OpenedFile(fd: fd, size: Int64(info.st_size))
        let winner = state.withLock { state -> OpenedFile? in
            if state.isShutDown { return nil }
            if let existing = state.files[index] { return existing }
            state.files[index] = file
            return file
        }
        if winner?.fd != fd { close(fd) }
        guard let winner else { throw .shutdown }
        return winner
    }

    /// While the marker exists, checks again every 20 ms; once it is gone, serves what waits.
    private func schedulePoll() {
        queue.asyncAfter(deadline: .now() + .milliseconds(20)) { [weak self] in
            guard let self, let marker = self.holdMarker else { return }
            if access(marker, F_OK) == 0 {
                self.schedulePoll()
                return
            }
            let pending = self.state.withLock { state in
                state.pollerRunning = false
                if state.held { return [PendingRead]() }
                defer { state.pending.removeAll() }
                return Array(state.pending.values)
            }
            for read in pending { self.serve(read) }
        }
    }
}
