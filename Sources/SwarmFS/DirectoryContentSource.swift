#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import SwarmMetainfo
import SwarmSession
import Synchronization

/// A `TorrentContentSource` over a directory that already holds the complete payload in the
/// torrent's layout (`DIR/<path...>`): serves a finished cache without a swarm, and lets tests
/// exercise the filesystem without the engine.
///
/// Reads can be *held* (parked until released) — programmatically with `hold()`/`release()`, or
/// while a marker file exists — so tests can block readers, interrupt them, and unmount under
/// them. Held reads complete on a background queue; others complete on the caller's thread.
public final class DirectoryContentSource: TorrentContentSource {
    public let metainfo: Metainfo
    /// The download DIR holding the payload.
    public let directory: String
    private let holdMarker: String?
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "swarmfs.directory-source")

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
        var nextReader: UInt64 = 1
        var openReaders: Set<ReaderID> = []
        var held = false
        var pending: [UInt64: PendingRead] = [:]
        var nextPending: UInt64 = 1
        var isShutDown = false
        var pollerRunning = false
    }

    /// Serves `metainfo`'s files from `directory`. With `holdReadsWhileExists`, reads wait while
    /// that file exists (checked every 20 ms).
    public init(metainfo: Metainfo, directory: String, holdReadsWhileExists: String? = nil) {
        self.metainfo = metainfo
        self.directory = directory
        holdMarker = holdReadsWhileExists
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
        var verifiedTotal: Int64 = 0
        let files = metainfo.userFiles.map { file in
            let size = (try? opened(file.index).size) ?? 0
            let verified = min(Int64(file.length), size)
            verifiedTotal += verified
            return FileStatus(path: file.path.joined(separator: "/"), length: Int64(file.length),
                              verifiedBytes: verified)
        }
        let pending = state.withLock { $0.pending.count }
        let complete = verifiedTotal >= Int64(layout.totalLength)
        return SessionStatus(
            infoHash: metainfo.infoHash.hex, name: metainfo.name, totalLength: Int64(layout.totalLength),
            verifiedBytes: verifiedTotal, verifiedPieces: complete ? layout.pieceCount : 0,
            pieceCount: layout.pieceCount, downloadedBytes: 0, uploadedBytes: 0, downloadRate: 0,
            uploadRate: 0, peers: 0, cacheDiskBytes: verifiedTotal, pendingReads: pending,
            piecesWaitingForReaders: 0, files: files)
    }

    // MARK: Private

    private func serve(_ read: PendingRead) {
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
