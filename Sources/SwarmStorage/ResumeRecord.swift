import Crypto
import Glibc
import SwarmMetainfo

/// What a cache knew at its last checkpoint: the verified pieces whose data was synced, the
/// verified pieces still only in the page cache (trusted only within the same boot, see
/// `BootIdentity`), and each file's size and mtime as seen when the record was taken. Stored at
/// DIR/.swarmfs/resume, written atomically (tmp, fsync, rename, fsync dir) and sealed with a
/// SHA-256, so a torn, truncated, foreign or corrupt record is simply absent — never trusted,
/// never a crash.
public struct ResumeRecord: Sendable {
    /// One file as seen at the checkpoint.
    public struct FileState: Sendable, Equatable {
        /// Size in bytes, or -1 when the file did not exist (or is padding).
        public var size: Int64
        /// Modification time in nanoseconds since the epoch (0 when absent).
        public var modificationNanoseconds: Int64

        /// A file state as recorded.
        public init(size: Int64, modificationNanoseconds: Int64) {
            self.size = size
            self.modificationNanoseconds = modificationNanoseconds
        }

        /// The state of a file that does not exist.
        public static let absent = FileState(size: -1, modificationNanoseconds: 0)
    }

    /// The info-hash bytes of the torrent the record belongs to.
    public var infoHash: [UInt8]
    /// Number of pieces of the torrent (the bitfield's length).
    public var pieceCount: Int
    /// Pieces whose data was verified and durable at the checkpoint.
    public var verified: Bitfield
    /// Pieces verified and written but not synced: trustworthy only during boot `bootID`.
    public var unsynced: Bitfield
    /// The boot the record was written in (`BootIdentity.current`; empty if unknown).
    public var bootID: [UInt8]
    /// One entry per file of the layout, in layout order.
    public var files: [FileState]

    /// A record from its parts.
    public init(infoHash: [UInt8], pieceCount: Int, verified: Bitfield, unsynced: Bitfield? = nil,
                bootID: [UInt8] = BootIdentity.current, files: [FileState]) {
        self.infoHash = infoHash
        self.pieceCount = pieceCount
        self.verified = verified
        self.unsynced = unsynced ?? Bitfield(count: pieceCount)
        self.bootID = bootID.count == BootIdentity.length ? bootID : []
        self.files = files
    }

    /// The record's name inside DIR/.swarmfs/.
    static let fileName = "resume"

    /// Where the record lives for a cache directory.
    public static func path(directory: String) -> String {
        StateDirectory.path(directory) + "/" + fileName
    }

    /// A record claiming `verified` (call it only after `store.sync()` covered every piece in it)
    /// and, for this boot only, `unsynced` (pieces whose `writePiece` returned), with every file's
    /// size and mtime as they are now.
    public static func capture(store: PieceStore, infoHash: InfoHash, verified: Bitfield,
                               unsynced: Bitfield? = nil) -> ResumeRecord {
        ResumeRecord(infoHash: infoHash.bytes, pieceCount: store.layout.pieceCount, verified: verified,
                     unsynced: unsynced, files: currentFileStates(store: store))
    }

    /// Each file's size and mtime on disk now (padding and missing files are `.absent`).
    public static func currentFileStates(store: PieceStore) -> [FileState] {
        store.layout.files.enumerated().map { index, file in
            if file.isPadding { return .absent }
            // lstat: a symlink in the cache is never a file of ours (the store refuses to open it).
            var info = stat()
            guard lstat(store.path(forFile: index), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return .absent }
            return FileState(size: Int64(info.st_size), modificationNanoseconds: info.modificationNanoseconds)
        }
    }

    /// Why the record of `directory` is ignored when something other than a regular file sits in
    /// its place (a symlink, a FIFO, ...): that entry is never read, and saving replaces it. nil
    /// when the place is empty or holds a regular file.
    public static func unsafeEntry(directory: String) -> StorageError? {
        guard let info = StateDirectory.status(directory, fileName) else { return nil }
        let kind = EntryKind(mode: info.st_mode)
        return kind == .regularFile ? nil : .unsafeEntry(path: path(directory: directory), kind: kind)
    }

    /// Loads the record of `directory` if it exists, is intact and belongs to `metainfo`
    /// (same info-hash, piece count and file count); nil otherwise.
    public static func load(directory: String, metainfo: Metainfo) -> ResumeRecord? {
        let expected = encodedSize(hashLength: metainfo.infoHash.bytes.count,
                                   pieceCount: metainfo.layout.pieceCount,
                                   fileCount: metainfo.layout.files.count)
        guard let bytes = StateDirectory.read(directory, fileName, limit: expected + 1),
              bytes.count == expected else { return nil }
        return decode(bytes, metainfo: metainfo)
    }

    /// Writes the record atomically: a crash leaves either the old record or the new one. A
    /// symlink or FIFO in its place is replaced, never followed (see `StateDirectory`).
    /// An identical record already on disk is left alone (see `StateDirectory.writeAtomically`).
    public func save(directory: String) throws(StorageError) {
        try StateDirectory.writeAtomically(directory, Self.fileName, bytes: encoded(), durable: true)
    }

    /// Removes the record (e.g. before a full re-check is forced).
    public static func remove(directory: String) {
        _ = removeDurably(directory: directory)
    }

    /// Removes the record (and any half-written temporary) and syncs the directory; true when no
    /// record remains on disk afterwards.
    @discardableResult
    public static func removeDurably(directory: String) -> Bool {
        StateDirectory.remove(directory, fileName, durable: true)
    }

    /// The pieces the record claims for a reader in boot `boot`: the synced ones, plus the unsynced
    /// ones if the machine has not restarted since (the page cache still holds their data).
    public func claimedPieces(inBoot boot: [UInt8] = BootIdentity.current) -> Bitfield {
        guard !bootID.isEmpty, bootID == boot else { return verified }
        var claimed = verified
        for piece in unsynced.setIndices { claimed[piece] = true }
        return claimed
    }

    /// The pieces of the record still trustworthy given the files on disk now: a claimed piece
    /// (`claimedPieces`) counts only if every non-padding file it touches has the size and mtime
    /// recorded at the checkpoint.
    public func trustedPieces(store: PieceStore, boot: [UInt8] = BootIdentity.current) -> Bitfield {
        let layout = store.layout
        var trusted = Bitfield(count: layout.pieceCount)
        guard files.count == layout.files.count, pieceCount == layout.pieceCount else { return trusted }
        let current = Self.currentFileStates(store: store)
        let unchanged = layout.files.indices.map { index in
            layout.files[index].isPadding || layout.files[index].length == 0
                || (current[index] == files[index] && files[index].size >= 0)
        }
        let claimed = claimedPieces(inBoot: boot)
        for piece in 0..<layout.pieceCount where claimed[piece] {
            if layout.slices(piece: piece).allSatisfy({ unchanged[$0.fileIndex] }) {
                trusted[piece] = true
            }
        }
        return trusted
    }

    // MARK: - Encoding

    // Version 2 added the unsynced pieces and the boot id; a version 1 record is simply absent
    // (the cache is re-checked once).
    private static let magic: [UInt8] = Array("SWFSRES2".utf8)
    private static let checksumLength = 32

    private static func encodedSize(hashLength: Int, pieceCount: Int, fileCount: Int) -> Int {
        magic.count + 1 + hashLength + 4 + 4 + 2 * ((pieceCount + 7) / 8) + BootIdentity.length
            + fileCount * 16 + checksumLength
    }

    /// The record's bytes: magic, info-hash, counts, the synced and unsynced bitfields, the boot
    /// id (zeros if unknown), file states, SHA-256 of all that.
    public func encoded() -> [UInt8] {
        let wire = verified.wireBytes
        var out: [UInt8] = []
        out.reserveCapacity(Self.encodedSize(hashLength: infoHash.count, pieceCount: pieceCount, fileCount: files.count))
        out += Self.magic
        out.append(UInt8(truncatingIfNeeded: infoHash.count))
        out += infoHash
        Self.append(UInt32(truncatingIfNeeded: pieceCount), to: &out)
        Self.append(UInt32(truncatingIfNeeded: files.count), to: &out)
        out += wire
        out += unsynced.wireBytes
        out += bootID.isEmpty ? [UInt8](repeating: 0, count: BootIdentity.length) : bootID
        for file in files {
            Self.append(UInt64(bitPattern: file.size), to: &out)
            Self.append(UInt64(bitPattern: file.modificationNanoseconds), to: &out)
        }
        out += Self.seal(out)
        return out
    }

    /// Parses and checks bytes from `encoded()` against `metainfo`; nil on any mismatch.
    public static func decode(_ bytes: [UInt8], metainfo: Metainfo) -> ResumeRecord? {
        let hash = metainfo.infoHash.bytes
        let layout = metainfo.layout
        guard bytes.count == encodedSize(hashLength: hash.count, pieceCount: layout.pieceCount,
                                         fileCount: layout.files.count) else { return nil }
        let body = bytes[0..<(bytes.count - checksumLength)]
        guard seal(body).elementsEqual(bytes[(bytes.count - checksumLength)...]) else { return nil }
        var reader = ByteReader(bytes: body)
        guard reader.take(magic.count).elementsEqual(magic),
              reader.byte() == UInt8(truncatingIfNeeded: hash.count),
              reader.take(hash.count).elementsEqual(hash),
              reader.uint32() == UInt32(layout.pieceCount),
              reader.uint32() == UInt32(layout.files.count) else { return nil }
        let wire = Array(reader.take((layout.pieceCount + 7) / 8))
        guard let verified = try? Bitfield(wireBytes: wire, count: layout.pieceCount) else { return nil }
        let unsyncedWire = Array(reader.take((layout.pieceCount + 7) / 8))
        guard let unsynced = try? Bitfield(wireBytes: unsyncedWire, count: layout.pieceCount) else { return nil }
        let boot = Array(reader.take(BootIdentity.length))
        var files: [FileState] = []
        files.reserveCapacity(layout.files.count)
        for _ in 0..<layout.files.count {
            let size = Int64(bitPattern: reader.uint64())
            let mtime = Int64(bitPattern: reader.uint64())
            files.append(FileState(size: size, modificationNanoseconds: mtime))
        }
        guard reader.isValid else { return nil }
        return ResumeRecord(infoHash: hash, pieceCount: layout.pieceCount, verified: verified, unsynced: unsynced,
                            bootID: boot.allSatisfy { $0 == 0 } ? [] : boot, files: files)
    }

    /// The SHA-256 that seals a record's body.
    static func seal(_ body: some Collection<UInt8>) -> [UInt8] {
        Array(SHA256.hash(data: Array(body)))
    }

    private static func append(_ value: UInt32, to out: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    private static func append(_ value: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
}

/// A cursor over record bytes that turns overruns into `isValid == false` instead of traps.
private struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var position: Int
    private(set) var isValid = true

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    mutating func take(_ count: Int) -> ArraySlice<UInt8> {
        guard count >= 0, position + count <= bytes.endIndex else {
            isValid = false
            return []
        }
        defer { position += count }
        return bytes[position..<position + count]
    }

    mutating func byte() -> UInt8? {
        take(1).first
    }

    mutating func uint32() -> UInt32 {
        take(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    mutating func uint64() -> UInt64 {
        take(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}
