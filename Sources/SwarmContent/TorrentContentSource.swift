import Glibc
import SwarmMetainfo
import Synchronization

/// Identifies one reader (one open file handle) so that each gets its own readahead window.
public struct ReaderID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "reader#\(rawValue)" }
}

/// Verified bytes of a file, ready to be served: normally `length` bytes at `offset` of the
/// cache file's open descriptor `fd` (valid while the reader the read came through is open —
/// sources pin a file's descriptor once per open reader — so a reply can splice them); or, for a read answered by the job that just verified its piece, the piece's memory
/// (`memory`, with `fd` -1), so the reader does not also wait for the piece to be written.
///
/// `memory` is valid only until the completion that received the span returns: a consumer
/// copies it out there (FUSE replies do), e.g. with `copyBytes()`.
public struct ReadableSpan: @unchecked Sendable, Equatable {
    public let fd: Int32
    public let offset: Int64
    public let length: Int
    /// The verified bytes themselves, when the span is not in the cache file (see above).
    public let memory: UnsafeRawBufferPointer?

    public init(fd: Int32, offset: Int64, length: Int) {
        self.fd = fd
        self.offset = offset
        self.length = length
        self.memory = nil
    }

    /// A span of verified bytes in memory, valid until the completion returns.
    public init(memory: UnsafeRawBufferPointer) {
        self.fd = -1
        self.offset = 0
        self.length = memory.count
        self.memory = memory
    }

    /// The span's bytes, read from memory or from the file (nil if the file read fails).
    public func copyBytes() -> [UInt8]? {
        if let memory { return Array(memory) }
        var bytes = [UInt8](repeating: 0, count: length)
        var done = 0
        while done < length {
            let got = bytes.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + done, length - done, off_t(offset) + off_t(done))
            }
            if got <= 0 { return got == 0 ? Array(bytes[..<done]) : nil }
            done += got
        }
        return bytes
    }

    public static func == (lhs: ReadableSpan, rhs: ReadableSpan) -> Bool {
        lhs.fd == rhs.fd && lhs.offset == rhs.offset && lhs.length == rhs.length
            && lhs.memory?.baseAddress == rhs.memory?.baseAddress
    }
}

/// Why a read could not be served. The FUSE layer alone turns these into errno values.
public enum ContentReadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reader went away (interrupt, close) before the data arrived.
    case cancelled
    /// `--read-timeout` elapsed before the covering pieces were verified.
    case timedOut(file: Int, offset: Int64, seconds: Double)
    /// The session is shutting down.
    case shutdown
    /// The cache could not store or open the data (a full disk, an I/O error, a damaged piece).
    case storage(file: Int, kind: StorageFailureKind, detail: String)
    /// The file index or range does not exist in this torrent.
    case invalidRange(file: Int, offset: Int64, length: Int)

    public var description: String {
        switch self {
        case .cancelled: "read cancelled"
        case let .timedOut(file, offset, seconds):
            "read of file \(file) at offset \(offset) timed out after \(seconds) s"
        case .shutdown: "session is shutting down"
        case let .storage(file, kind, detail): "cache error on file \(file) (\(kind)): \(detail)"
        case let .invalidRange(file, offset, length):
            "invalid range \(offset)+\(length) of file \(file)"
        }
    }
}

/// What kind of cache failure stopped a read. The FUSE layer alone decides which errno a reader
/// sees for each kind.
public enum StorageFailureKind: Sendable, Equatable, CustomStringConvertible {
    /// The filesystem holding the cache is full.
    case noSpace
    /// The cache was opened read-only and a write was needed.
    case readOnly
    /// The bytes in the cache are not the torrent's: a piece fails its hash, or a file is shorter
    /// than the layout or keeps changing while it is checked.
    case damaged
    /// The cache files cannot be opened or do not exist, with no system call's error to tell why.
    case unavailable
    /// A system call failed; `errno` is the value it reported (context, not a reply code).
    case systemCall(errno: Int32)

    public var description: String {
        switch self {
        case .noSpace: "no space"
        case .readOnly: "read-only"
        case .damaged: "damaged"
        case .unavailable: "unavailable"
        case let .systemCall(code): "errno \(code)"
        }
    }
}

/// A handle on a pending read. `cancel()` makes the completion fire once with `.cancelled`
/// (unless it already fired); calling it more than once, or after completion, does nothing.
public final class ReadTicket: Sendable {
    private let onCancel: Mutex<(@Sendable () -> Void)?>

    public init(onCancel: @escaping @Sendable () -> Void) {
        self.onCancel = Mutex(onCancel)
    }

    /// A ticket for a read that completed synchronously: nothing to cancel.
    public static let completed = ReadTicket(onCancel: {})

    public func cancel() {
        let action = onCancel.withLock { action in
            defer { action = nil }
            return action
        }
        action?()
    }
}

/// Progress of one user-visible file.
public struct FileStatus: Sendable, Equatable {
    public let path: String
    public let length: Int64
    public let verifiedBytes: Int64
    public init(path: String, length: Int64, verifiedBytes: Int64) {
        self.path = path
        self.length = length
        self.verifiedBytes = verifiedBytes
    }
}

/// A point-in-time view of a torrent session for `swarmfs status` and extended attributes.
public struct SessionStatus: Sendable, Equatable {
    public var infoHash: String
    public var name: String
    public var totalLength: Int64
    public var verifiedBytes: Int64
    public var verifiedPieces: Int
    public var pieceCount: Int
    public var downloadedBytes: Int64
    public var uploadedBytes: Int64
    public var downloadRate: Double
    public var uploadRate: Double
    public var peers: Int
    public var cacheDiskBytes: Int64
    public var pendingReads: Int
    public var piecesWaitingForReaders: Int
    /// Pieces holding memory (being assembled or hashed), and the most the budget allows:
    /// waiting reads share that budget with readahead and background fill.
    public var piecesInMemory: Int
    public var pieceMemoryLimit: Int
    public var files: [FileStatus]

    /// Uploaded bytes per byte we hold, as clients show the share ratio: over what we downloaded,
    /// or over what is verified when the data came from the cache (a seed of adopted data).
    public var shareRatio: Double {
        let base = max(downloadedBytes, verifiedBytes)
        return base > 0 ? Double(uploadedBytes) / Double(base) : 0
    }

    public init(infoHash: String, name: String, totalLength: Int64, verifiedBytes: Int64,
                verifiedPieces: Int, pieceCount: Int, downloadedBytes: Int64, uploadedBytes: Int64,
                downloadRate: Double, uploadRate: Double, peers: Int, cacheDiskBytes: Int64,
                pendingReads: Int, piecesWaitingForReaders: Int, piecesInMemory: Int = 0, pieceMemoryLimit: Int = 0,
                files: [FileStatus]) {
        self.infoHash = infoHash
        self.name = name
        self.totalLength = totalLength
        self.verifiedBytes = verifiedBytes
        self.verifiedPieces = verifiedPieces
        self.pieceCount = pieceCount
        self.downloadedBytes = downloadedBytes
        self.uploadedBytes = uploadedBytes
        self.downloadRate = downloadRate
        self.uploadRate = uploadRate
        self.peers = peers
        self.cacheDiskBytes = cacheDiskBytes
        self.pendingReads = pendingReads
        self.piecesWaitingForReaders = piecesWaitingForReaders
        self.piecesInMemory = piecesInMemory
        self.pieceMemoryLimit = pieceMemoryLimit
        self.files = files
    }
}

/// What the filesystem needs from a torrent: its metadata, and verified bytes on demand.
/// Implemented by `TorrentSession` (SwarmSession) and by `DirectoryContentSource`.
public protocol TorrentContentSource: AnyObject, Sendable {
    /// The torrent's metadata; the file tree never waits for the network.
    var metainfo: Metainfo { get }
    /// Registers a reader (an open file handle) of `fileIndex` (an index into `layout.files`).
    func openReader(fileIndex: Int) -> ReaderID
    /// Releases a reader's readahead window.
    func closeReader(_ reader: ReaderID)
    /// Asks for bytes `[offset, offset+length)` of file `fileIndex` (already clamped to the file).
    /// `completion` is called exactly once, never on an event loop, when the covering pieces are
    /// verified and on disk (with where to read them) or with the reason they cannot be.
    func read(_ reader: ReaderID, fileIndex: Int, offset: Int64, length: Int,
              completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void) -> ReadTicket
    /// Current progress, rates, peers and per-file completion.
    func statusSnapshot() -> SessionStatus
}
