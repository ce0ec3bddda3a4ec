import Glibc
import SwarmMetainfo
import Synchronization

/// The torrent's files under a directory in the torrent's own layout (single-file: DIR/<name>;
/// multi-file: DIR/<name>/...), so a complete cache is an ordinary download and a folder from any
/// client can be adopted. Files are created sparse (extended to full length) on first write;
/// padding files are never created.
///
/// Thread-safe: many threads may write different pieces and read at once (the session calls it
/// from a thread pool, never from an event loop — every method blocks on disk I/O).
public final class PieceStore: Sendable {
    /// Whether the store may create and write files.
    public enum Mode: Sendable {
        /// Normal cache use: files are created on first write.
        case readWrite
        /// Verification of someone's folder: nothing is created or modified.
        case readOnly
    }

    /// The piece <-> file mapping this store follows.
    public let layout: FileLayout
    /// The directory the torrent's files live under.
    public let directory: String
    /// The mode the store was opened with.
    public let mode: Mode

    private let paths: [String]
    private let components: [[String]]
    private let handles: FileHandleTable
    private let emptyFilesDone = Atomic<Bool>(false)
    /// Held around each `pwrite`. Two threads writing one file contend for the inode's rwsem,
    /// and the kernel has the loser spin on the CPU for the whole 1 MiB copy (a profile showed
    /// 10 % of a download's CPU there); with this lock the loser sleeps instead.
    private let writeLock = SleepingLock()

    /// Bytes per `pwrite` when storing a piece. The kernel sizes the page-cache folios it
    /// allocates by the write's length: a 1 MiB write takes 1 MiB folios, which on this kind of
    /// VM come from memory the host has to fault in again, so writing 1 GiB cost 1.9 s of system
    /// time with 1 MiB writes and 0.41 s with 16 KiB ones (`dd`, 4 runs each, 64 KiB: 0.68 s,
    /// 4 KiB: 1.26 s from the extra system calls). Libtorrent writes 16 KiB blocks too.
    static let writeChunkSize = 16 * 1024

    /// Opens (does not create) a store. Refuses any layout path with an empty, ".", ".." or
    /// slash-containing component even though SwarmMetainfo sanitises them: this is where paths
    /// meet the disk.
    /// Files are opened below `directory` without following symlinks, and only if they are regular
    /// files (see `ConfinedPath`): the folder's contents are not trusted.
    /// - Parameters:
    ///   - maxOpenFiles: bound on fds kept open (LRU); pinned fds come on top.
    ///   - closesUnpinnedFiles: close a file's fd when its last pin ends, so the next reader sees
    ///     the file now on disk (for folders other programs may edit, see `pinFile`).
    public init(layout: FileLayout, directory: String, mode: Mode = .readWrite,
                maxOpenFiles: Int = 256, closesUnpinnedFiles: Bool = false) throws(StorageError) {
        self.layout = layout
        self.directory = directory
        self.mode = mode
        var paths: [String] = []
        paths.reserveCapacity(layout.files.count)
        for file in layout.files {
            for component in file.path where component.isEmpty || component == "." || component == ".."
                || component.contains("/") || component.contains("\0") {
                throw .unsafePath(components: file.path)
            }
            if file.path.isEmpty { throw .unsafePath(components: file.path) }
            paths.append(directory + "/" + file.path.joined(separator: "/"))
        }
        self.paths = paths
        self.components = layout.files.map(\.path)
        self.handles = FileHandleTable(root: directory, capacity: maxOpenFiles, writable: mode == .readWrite,
                                       closesUnpinned: closesUnpinnedFiles)
    }

    deinit {
        handles.closeAll()
    }

    /// The absolute path of a file of the layout.
    public func path(forFile fileIndex: Int) -> String {
        paths[fileIndex]
    }

    /// Writes a whole verified piece (all its file slices; padding slices skipped).
    /// ENOSPC/EDQUOT surface as `.diskFull`, other failures as `.io`, both naming file and piece.
    public func writePiece(_ piece: Int, from buffer: UnsafeRawBufferPointer) throws(StorageError) {
        let size = try checkedPieceSize(piece)
        guard buffer.count == size else { throw .bufferSize(piece: piece, expected: size, actual: buffer.count) }
        if mode == .readOnly { throw .readOnly(path: directory) }
        let pieceStart = layout.pieceOffset(piece)
        for slice in layout.slices(piece: piece) {
            let file = layout.files[slice.fileIndex]
            if file.isPadding || slice.length == 0 { continue }
            let path = paths[slice.fileIndex]
            let fd = try lease(slice.fileIndex, access: .write(length: file.length), piece: piece)
            let start = Int(slice.torrentOffset - pieceStart)
            let code = writeLock.withLock {
                PosixIO.writeFully(fd, UnsafeRawBufferPointer(rebasing: buffer[start..<start + slice.length]),
                                   at: slice.fileOffset, chunkSize: Self.writeChunkSize)
            }
            handles.release(file: slice.fileIndex, wrote: true)
            if code != 0 { throw .fromWrite("pwrite", path: path, piece: piece, errno: code) }
        }
        if !emptyFilesDone.load(ordering: .relaxed) {
            try createEmptyFiles()
        }
    }

    /// Reads a whole piece (padding reads as zeros) for uploads and re-checks.
    /// A missing file is `.missingFile`, a file too short is `.shortFile`.
    public func readPiece(_ piece: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) {
        let size = try checkedPieceSize(piece)
        guard buffer.count == size else { throw .bufferSize(piece: piece, expected: size, actual: buffer.count) }
        try read(piece: piece, begin: 0, into: buffer)
    }

    /// Reads `into.count` bytes of a piece starting at `begin` (a peer's block request).
    public func readBlock(piece: Int, begin: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) {
        let size = try checkedPieceSize(piece)
        guard begin >= 0, buffer.count <= size, begin <= size - buffer.count else {
            throw .outOfRange(piece: piece, begin: begin, length: buffer.count)
        }
        try read(piece: piece, begin: begin, into: buffer)
    }

    /// An fd open on the file for copy-free FUSE replies (`fuse_reply_data` with an fd buffer).
    /// It stays open while the caller holds a pin on the file (`pinFile`), and until `close()`.
    /// Creates the sparse file if needed (read-write stores).
    public func fileDescriptor(forFile fileIndex: Int) throws(StorageError) -> Int32 {
        try fileDescriptorAndIdentity(forFile: fileIndex).fd
    }

    /// `fileDescriptor(forFile:)` and what that descriptor's `fstat` says now, so a caller can tell
    /// whether the file changed since it checked the bytes it is about to serve.
    public func fileDescriptorAndIdentity(forFile fileIndex: Int) throws(StorageError) -> (fd: Int32, identity: FileIdentity) {
        guard layout.files.indices.contains(fileIndex) else {
            throw .outOfRange(piece: -1, begin: fileIndex, length: 0)
        }
        let file = layout.files[fileIndex]
        let access: FileHandleTable.Access = mode == .readWrite ? .write(length: file.length) : .read
        let path = paths[fileIndex]
        let fd = try lease(fileIndex, access: access, piece: nil)
        defer { handles.release(file: fileIndex, wrote: false) }
        switch PosixIO.status(fd) {
        case let .success(info): return (fd, FileIdentity(info))
        case let .failure(error): throw .io(operation: "fstat", path: path, piece: nil, errno: error.code)
        }
    }

    /// Adds a pin on the file: from now until the matching `unpinFile`, its fd (once opened) is
    /// not closed by the LRU, so replies splicing from it never see it closed or reused. Pins are
    /// counted — take one per open reader of the file. Never blocks (no I/O).
    public func pinFile(_ fileIndex: Int) {
        handles.pin(file: fileIndex)
    }

    /// Undoes one `pinFile`. Once no pin is left, the LRU may close the fd (so torrents with
    /// thousands of files do not accumulate open fds).
    public func unpinFile(_ fileIndex: Int) {
        handles.unpin(file: fileIndex)
    }

    /// fdatasyncs every file written since the last sync. After it returns, every piece whose
    /// `writePiece` returned before the call is durable.
    public func sync() throws(StorageError) {
        try handles.syncDirty { [paths] in paths[$0] }
    }

    /// The cache's real disk use: allocated blocks (st_blocks × 512) over all files, not their
    /// apparent sizes.
    public func allocatedBytes() -> Int64 {
        handles.withOpenDescriptors { open in
            var total: Int64 = 0
            for (index, file) in layout.files.enumerated() where !file.isPadding {
                let info: Result<stat, Errno>
                if let fd = open[index] {
                    info = PosixIO.status(fd)
                } else {
                    info = PosixIO.status(path: paths[index])
                }
                if case let .success(value) = info { total += Int64(value.st_blocks) * 512 }
            }
            return total
        }
    }

    /// Frees the disk blocks of a piece (eviction) with FALLOC_FL_PUNCH_HOLE|KEEP_SIZE over its
    /// slices; the files keep their size and the range reads as zeros. Missing files are skipped.
    public func punchHole(piece: Int) throws(StorageError) {
        _ = try checkedPieceSize(piece)
        if mode == .readOnly { throw .readOnly(path: directory) }
        for slice in layout.slices(piece: piece) {
            let file = layout.files[slice.fileIndex]
            if file.isPadding || slice.length == 0 { continue }
            let path = paths[slice.fileIndex]
            let fd: Int32
            do {
                fd = try lease(slice.fileIndex, access: .read, piece: piece)
            } catch .missingFile {
                continue
            }
            let code = PosixIO.punchHole(fd, offset: slice.fileOffset, length: Int64(slice.length))
            handles.release(file: slice.fileIndex, wrote: true)
            if code != 0 { throw .io(operation: "fallocate(PUNCH_HOLE)", path: path, piece: piece, errno: code) }
        }
    }

    /// The length of each file on disk, nil where it is absent, padding, or not one we may open
    /// (a symlink, a FIFO), read once: a re-check then decides which pieces can be on disk with
    /// one system call per file, not two per piece. A fresh cache of a torrent of 65,536 pieces
    /// was 131,072 failed opens before the mount came up.
    public func storedFileLengths() -> [Int64?] {
        layout.files.indices.map { index in
            guard !layout.files[index].isPadding, let fd = try? lease(index, access: .read, piece: nil) else { return nil }
            defer { handles.release(file: index, wrote: false) }
            guard case let .success(info) = PosixIO.status(fd) else { return nil }
            return Int64(info.st_size)
        }
    }

    /// Whether the piece could possibly verify from disk: every non-padding file it touches
    /// exists (in `fileLengths`, from `storedFileLengths`) and is long enough. No system call.
    public func isPresent(piece: Int, fileLengths: [Int64?]) -> Bool {
        guard (0..<layout.pieceCount).contains(piece), fileLengths.count == layout.files.count else { return false }
        for slice in layout.slices(piece: piece) {
            if layout.files[slice.fileIndex].isPadding || slice.length == 0 { continue }
            guard let length = fileLengths[slice.fileIndex],
                  length >= slice.fileOffset + Int64(slice.length) else { return false }
        }
        return true
    }

    /// Whether any byte of the piece is allocated on disk (SEEK_DATA). A piece that is all holes
    /// reads as zeros, so it only verifies if its hash is the hash of zeros.
    public func hasAllocatedData(piece: Int) -> Bool {
        guard (0..<layout.pieceCount).contains(piece) else { return false }
        for slice in layout.slices(piece: piece) {
            let file = layout.files[slice.fileIndex]
            if file.isPadding || slice.length == 0 { continue }
            guard let fd = try? lease(slice.fileIndex, access: .read, piece: piece) else { continue }
            let found = PosixIO.hasData(fd, offset: slice.fileOffset, length: Int64(slice.length))
            handles.release(file: slice.fileIndex, wrote: false)
            if found { return true }
        }
        return false
    }

    /// Number of fds currently open (tests check the LRU bound with it).
    public var openFileCount: Int { handles.openCount }

    /// Closes every fd, without syncing (`sync()` first for durability). Later calls fail with
    /// `.io(EBADF)`.
    public func close() {
        handles.closeAll()
    }

    // MARK: - Private

    /// Leases file `index`'s fd (see `FileHandleTable.lease`); `release` it after use.
    private func lease(_ index: Int, access: FileHandleTable.Access, piece: Int?) throws(StorageError) -> Int32 {
        try handles.lease(file: index, components: components[index], path: paths[index], access: access, piece: piece)
    }

    private func checkedPieceSize(_ piece: Int) throws(StorageError) -> Int {
        guard piece >= 0, piece < layout.pieceCount else { throw .outOfRange(piece: piece, begin: 0, length: 0) }
        return layout.pieceSize(piece)
    }

    private func read(piece: Int, begin: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) {
        if buffer.isEmpty { return }
        let start = layout.pieceOffset(piece) + Int64(begin)
        var filled = 0
        for slice in layout.slices(torrentOffset: start, length: Int64(buffer.count)) {
            let file = layout.files[slice.fileIndex]
            let at = Int(slice.torrentOffset - start)
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[at..<at + slice.length])
            filled += slice.length
            if slice.length == 0 { continue }
            if file.isPadding {
                target.initializeMemory(as: UInt8.self, repeating: 0)
                continue
            }
            let path = paths[slice.fileIndex]
            let fd = try lease(slice.fileIndex, access: .read, piece: piece)
            let (got, code) = PosixIO.readFully(fd, target, at: slice.fileOffset)
            handles.release(file: slice.fileIndex, wrote: false)
            if code != 0 { throw .io(operation: "pread", path: path, piece: piece, errno: code) }
            if got < slice.length {
                throw .shortFile(path: path, piece: piece, needed: slice.fileOffset + Int64(slice.length),
                                 actual: slice.fileOffset + Int64(got))
            }
        }
        // The layout must cover the whole range; anything else is a layout bug, reported not trusted.
        if filled != buffer.count {
            throw .outOfRange(piece: piece, begin: begin, length: buffer.count)
        }
    }

    /// Zero-length files never receive a write, yet belong to a complete download: create them
    /// (once) when the first piece lands.
    private func createEmptyFiles() throws(StorageError) {
        for (index, file) in layout.files.enumerated() where file.length == 0 && !file.isPadding {
            _ = try lease(index, access: .write(length: 0), piece: nil)
            handles.release(file: index, wrote: false)
        }
        emptyFilesDone.store(true, ordering: .relaxed)
    }
}

extension PieceStore {
    /// Free bytes available to us on the cache's filesystem (statvfs), or nil if it cannot be
    /// asked. After `.diskFull` the session polls this to resume fetching when space returns.
    public func availableBytes() -> Int64? {
        var info = statvfs()
        var path = directory
        // The directory may not exist yet; ask its nearest existing ancestor.
        while statvfs(path, &info) != 0 {
            guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
                return statvfs("/", &info) == 0 ? Int64(info.f_bavail) * Int64(info.f_frsize) : nil
            }
            path = String(path[..<slash])
        }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}
