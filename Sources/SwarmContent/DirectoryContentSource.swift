#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import SwarmMetainfo
import SwarmStorage
import Synchronization

/// A `TorrentContentSource` over a directory that already holds the complete payload in the
/// torrent's layout (`DIR/<path...>`): serves a finished cache without a swarm, and lets tests
/// exercise the filesystem without the engine.
///
/// Nothing is served unchecked: the first read of a piece hashes it from the files (off the
/// caller's thread) and a piece that does not match the torrent fails its reads as damaged, so a
/// cache damaged behind our back is never passed off as the torrent. Mounting stays instant
/// whatever the payload's size, and each piece is hashed once while its files stay unchanged.
///
/// Invariants (the folder is not ours: other programs may edit or replace its files):
/// - Replies splice from the very descriptor the piece checks read through: the store's, pinned
///   once per open reader of the file, so the LRU never closes it under a reply. A file's last
///   reader closing closes its descriptor, so the next open sees a replaced file.
/// - Every reply first `fstat`s that descriptor; a file whose identity (inode, size, mtime,
///   ctime) differs from the one its checks saw loses the checks of all its pieces, which are
///   hashed again before anything is served. A check only counts if no file of its piece changed
///   while it ran (`epoch`).
/// - Open descriptors are bounded: the store's LRU (`maxOpenFiles`) plus one per file with an
///   open reader.
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

    /// Descriptors the store keeps open for files no reader holds (hash checks of pieces that
    /// span files); files with open readers come on top.
    static let maxOpenFiles = 64
    /// How often a read re-checks a file that keeps changing under it before it fails as damaged.
    static let maxCheckAttempts = 4

    private struct PendingRead {
        let fileIndex: Int
        let offset: Int64
        let length: Int
        let completion: @Sendable (Result<ReadableSpan, ContentReadError>) -> Void
    }

    private struct State {
        /// Pieces hashed and found to match the torrent (with their files as in `identities`).
        var verified: Bitfield
        /// Pieces hashed and found damaged: their reads fail until one of their files changes.
        var damaged: Set<Int> = []
        /// Each file as the checks of its pieces saw it.
        var identities: [Int: FileIdentity] = [:]
        /// Moves whenever a file's checks are dropped; a check started in another epoch is void.
        var epoch: UInt64 = 0
        var nextReader: UInt64 = 1
        /// Open readers and their file.
        var openReaders: [ReaderID: Int] = [:]
        var held = false
        var pending: [UInt64: PendingRead] = [:]
        var nextPending: UInt64 = 1
        var isShutDown = false
        var pollerRunning = false
        /// Moves whenever `verified` or `identities` change: what `progress` was computed from.
        var generation: UInt64 = 0
        /// Per-file progress as of `generation`.
        var progress: Progress?
    }

    /// What `statusSnapshot` derives from the verified pieces and the files: O(files + pieces)
    /// to compute, so computed once per change, not on every status attribute read
    /// (`getfattr -R` reads one per file).
    private struct Progress {
        let generation: UInt64
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
        store = try? PieceStore(layout: metainfo.layout, directory: directory, mode: .readOnly,
                                maxOpenFiles: Self.maxOpenFiles, closesUnpinnedFiles: true)
    }

    /// Entries of the folder in the way of the torrent's files that are never followed or opened
    /// (symlinks, FIFOs, ...), described for a log line (see `PieceStore.unsafeEntries`).
    public func unsafeEntries(limit: Int) -> [String] {
        store?.unsafeEntries(limit: limit).map { "\($0)" } ?? []
    }

    /// Descriptors open on the folder's files right now (bounded, see the invariants).
    public var openFileCount: Int { store?.openFileCount ?? 0 }

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
        let pending = state.withLock { state in
            state.isShutDown = true
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for read in pending { read.completion(.failure(.shutdown)) }
        store?.close()
    }

    public func openReader(fileIndex: Int) -> ReaderID {
        if metainfo.layout.files.indices.contains(fileIndex) { store?.pinFile(fileIndex) }
        return state.withLock { state in
            let reader = ReaderID(rawValue: state.nextReader)
            state.nextReader += 1
            state.openReaders[reader] = fileIndex
            return reader
        }
    }

    public func closeReader(_ reader: ReaderID) {
        guard let fileIndex = state.withLock({ $0.openReaders.removeValue(forKey: reader) }) else { return }
        if metainfo.layout.files.indices.contains(fileIndex) { store?.unpinFile(fileIndex) }
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
        // Disk bytes count the files as last seen by a read: status never opens files (getfattr
        // asks for it once per file, and opening all of them is what the fd bound forbids).
        let (verified, identities, generation, cached, pending) = state.withLock { state in
            (state.verified, state.identities, state.generation, state.progress, state.pending.count)
        }
        let progress: Progress
        if let cached, cached.generation == generation {
            progress = cached
        } else {
            progress = computeProgress(verified: verified, identities: identities, generation: generation)
            state.withLock { state in
                if state.generation == generation { state.progress = progress }
            }
        }
        return SessionStatus(
            infoHash: metainfo.infoHash.hex, name: metainfo.name, totalLength: Int64(layout.totalLength),
            verifiedBytes: progress.verifiedBytes, verifiedPieces: progress.verifiedPieces,
            pieceCount: layout.pieceCount, downloadedBytes: 0, uploadedBytes: 0, downloadRate: 0,
            uploadRate: 0, peers: 0, cacheDiskBytes: progress.diskBytes, pendingReads: pending,
            piecesWaitingForReaders: 0, files: progress.files)
    }

    private func computeProgress(verified: Bitfield, identities: [Int: FileIdentity],
                                 generation: UInt64) -> Progress {
        let layout = metainfo.layout
        var verifiedTotal: Int64 = 0
        var diskTotal: Int64 = 0
        let files = metainfo.userFiles.map { file in
            diskTotal += min(Int64(file.length), max(0, identities[file.index]?.size ?? 0))
            let bytes = Self.verifiedBytes(of: file.index, in: layout, verified: verified)
            verifiedTotal += bytes
            return FileStatus(path: file.path.joined(separator: "/"), length: Int64(file.length),
                              verifiedBytes: bytes)
        }
        return Progress(generation: generation, verifiedPieces: verified.setCount, files: files,
                        verifiedBytes: verifiedTotal, diskBytes: diskTotal)
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

    /// Serves a read whose pieces are checked (for the file as it is now) at once; otherwise
    /// checks them on a background queue first (hashing reads the disk: the caller may be a FUSE
    /// thread).
    private func serve(_ read: PendingRead) {
        switch attemptReply(read) {
        case .done:
            return
        case .needsCheck:
            DispatchQueue.global().async { [self] in checkThenServe(read) }
        }
    }

    private enum Attempt {
        case done
        case needsCheck([Int])
    }

    /// Replies from the file's descriptor if every piece of the read is verified for the file as
    /// its `fstat` shows it now (completing the read with an error if it cannot be read).
    private func attemptReply(_ read: PendingRead) -> Attempt {
        guard let store else {
            read.completion(.failure(.storage(file: read.fileIndex, kind: .unavailable,
                                              detail: "the files of \(directory) cannot be opened")))
            return .done
        }
        let current: (fd: Int32, identity: FileIdentity)
        do throws(StorageError) {
            current = try store.fileDescriptorAndIdentity(forFile: read.fileIndex)
        } catch {
            read.completion(.failure(.storage(file: read.fileIndex, kind: error.readFailureKind, detail: "\(error)")))
            return .done
        }
        let pieces = read.length > 0
            ? metainfo.layout.pieces(file: read.fileIndex, offset: read.offset, length: Int64(read.length))
            : 0..<0
        let unchecked = state.withLock { state in
            note(current.identity, of: read.fileIndex, in: &state)
            return pieces.filter { !state.verified[$0] }
        }
        if !unchecked.isEmpty { return .needsCheck(unchecked) }
        guard read.offset + Int64(read.length) <= current.identity.size else {
            read.completion(.failure(.storage(file: read.fileIndex, kind: .damaged,
                                              detail: "cache file holds only \(current.identity.size) bytes")))
            return .done
        }
        read.completion(.success(ReadableSpan(fd: current.fd, offset: read.offset, length: read.length)))
        return .done
    }

    /// Checks the read's pieces, then replies; starts over (a bounded number of times) when a
    /// file changed while its pieces were being checked.
    private func checkThenServe(_ read: PendingRead) {
        for _ in 0..<Self.maxCheckAttempts {
            guard case let .needsCheck(unchecked) = attemptReply(read) else { return }
            for piece in unchecked {
                switch check(piece, for: read.fileIndex) {
                case .matches, .changed:
                    continue  // a change shows at the next attempt's fstat
                case let .failed(error):
                    read.completion(.failure(error))
                    return
                }
            }
        }
        read.completion(.failure(.storage(file: read.fileIndex, kind: .damaged,
                                          detail: "\(path(of: read.fileIndex)) kept changing while it was being checked")))
    }

    private enum CheckOutcome {
        case matches
        /// A file of the piece changed during the check; nothing was recorded.
        case changed
        case failed(ContentReadError)
    }

    /// Hashes `piece` from the files unless a check for the files as they are is already known.
    private func check(_ piece: Int, for fileIndex: Int) -> CheckOutcome {
        guard let store else { return .failed(damagedError(piece, file: fileIndex, detail: "cannot be opened")) }
        let before: [Int: FileIdentity]
        do throws(StorageError) {
            before = try identities(ofPiece: piece, store: store)
        } catch {
            return .failed(.storage(file: fileIndex, kind: error.readFailureKind, detail: "\(error)"))
        }
        let startEpoch = state.withLock { state -> UInt64? in
            for (file, identity) in before { note(identity, of: file, in: &state) }
            if state.verified[piece] || state.damaged.contains(piece) { return nil }
            return state.epoch
        }
        guard let startEpoch else {
            let known = state.withLock { $0.verified[piece] }
            return known ? .matches : .failed(damagedError(piece, file: fileIndex, detail: "does not match the torrent"))
        }
        let matches: Bool
        let after: [Int: FileIdentity]
        do throws(StorageError) {
            matches = try store.storedPieceMatches(piece, expected: metainfo.pieceHash(piece))
            after = try identities(ofPiece: piece, store: store)
        } catch {
            return .failed(.storage(file: fileIndex, kind: error.readFailureKind, detail: "\(error)"))
        }
        let recorded = state.withLock { state -> Bool in
            for (file, identity) in after { note(identity, of: file, in: &state) }
            guard state.epoch == startEpoch else { return false }
            if matches { state.verified[piece] = true } else { state.damaged.insert(piece) }
            state.generation &+= 1
            return true
        }
        if !recorded { return .changed }
        return matches ? .matches : .failed(damagedError(piece, file: fileIndex, detail: "does not match the torrent"))
    }

    /// `fstat` of every non-padding file the piece touches, through the store's descriptors.
    private func identities(ofPiece piece: Int, store: PieceStore) throws(StorageError) -> [Int: FileIdentity] {
        var result: [Int: FileIdentity] = [:]
        for slice in metainfo.layout.slices(piece: piece) where slice.length > 0 {
            if metainfo.layout.files[slice.fileIndex].isPadding { continue }
            result[slice.fileIndex] = try store.fileDescriptorAndIdentity(forFile: slice.fileIndex).identity
        }
        return result
    }

    /// Records how a file looks now; if it looked different when its pieces were checked, those
    /// checks no longer hold (and checks under way are void: the epoch moves).
    private func note(_ identity: FileIdentity, of fileIndex: Int, in state: inout State) {
        guard let known = state.identities[fileIndex] else {
            state.identities[fileIndex] = identity
            state.generation &+= 1
            return
        }
        if known == identity { return }
        state.identities[fileIndex] = identity
        state.generation &+= 1
        state.epoch &+= 1
        let length = Int64(metainfo.layout.files[fileIndex].length)
        guard length > 0 else { return }
        for piece in metainfo.layout.pieces(file: fileIndex, offset: 0, length: length) {
            state.verified[piece] = false
            state.damaged.remove(piece)
        }
    }

    private func path(of fileIndex: Int) -> String {
        ([directory] + metainfo.layout.files[fileIndex].path).joined(separator: "/")
    }

    private func damagedError(_ piece: Int, file: Int, detail: String) -> ContentReadError {
        .storage(file: file, kind: .damaged, detail: "piece \(piece) of the cache in \(directory) \(detail)")
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
