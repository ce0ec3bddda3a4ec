#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwarmContent

/// The read-only filesystem of one torrent, independent of FUSE: the inode tree, attributes,
/// listings, extended attributes, and reads dispatched to a `TorrentContentSource`.
/// Thread-safe: FUSE calls it from several threads at once.
public final class SwarmFileSystem: MountedFileSystem {
    /// Extended attribute names.
    public typealias AttributeName = FSAttributeName

    public let source: any TorrentContentSource
    public let tree: TorrentTree
    public var table: InodeTable { tree.table }
    public let ownership: FSOwnership
    /// Extra top-level fields of the status JSON (e.g. the mountpoint and daemon pid).
    public let statusExtras: [(String, String)]
    private let handles = OpenFileTable<OpenFile>()

    /// A filesystem showing `entries` (in the order of `source.statusSnapshot().files`).
    public init(source: any TorrentContentSource, entries: [FSFileEntry], ownership: FSOwnership,
                statusExtras: [(String, String)] = []) {
        self.source = source
        self.ownership = ownership
        self.statusExtras = statusExtras
        tree = TorrentTree(entries: entries)
    }

    /// A filesystem showing the torrent's files (padding hidden); times are the torrent's
    /// creation date when it has one, else `mountTime`.
    public convenience init(source: any TorrentContentSource, uid: UInt32, gid: UInt32,
                            mountTime: Int64, statusExtras: [(String, String)] = []) {
        let metainfo = source.metainfo
        let time = metainfo.creationDate.map { $0 > 0 ? $0 : mountTime } ?? mountTime
        self.init(source: source, entries: FSFileEntry.entries(of: metainfo),
                  ownership: FSOwnership(uid: uid, gid: gid, time: time), statusExtras: statusExtras)
    }

    // MARK: Metadata

    /// The node `name` in `parent` and its attributes.
    public func lookup(parent: UInt64, name: String) throws(FSError) -> FSAttributes {
        InodeTable.attributes(of: try table.lookup(parent: parent, name: name), ownership: ownership)
    }

    /// The attributes of `inode`.
    public func attributes(of inode: UInt64) throws(FSError) -> FSAttributes {
        try table.attributes(of: inode, ownership: ownership)
    }

    /// The listing entry at `offset` of `directory` (nil past the end).
    public func directoryEntry(of directory: UInt64, at offset: Int64) throws(FSError) -> FSDirectoryEntry? {
        try table.entry(of: directory, at: offset)
    }

    /// Whole-filesystem numbers for `statfs`: sizes in `blockSize` units, nothing free.
    public func statistics() -> (blockSize: UInt64, blocks: UInt64, files: UInt64, nameMax: UInt64) {
        let blockSize: UInt64 = 4096
        return (blockSize, (UInt64(tree.totalLength) + blockSize - 1) / blockSize, UInt64(table.count), 255)
    }

    /// Checks that `inode` is a directory.
    public func checkDirectory(_ inode: UInt64) throws(FSError) {
        guard let node = table.node(inode) else { throw .notFound(inode: inode, name: nil) }
        guard node.isDirectory else { throw .notDirectory(inode: inode) }
    }

    /// Checks an `access(2)` request: anything asking for write is refused.
    public func checkAccess(_ inode: UInt64, mask: Int32) throws(FSError) {
        guard table.node(inode) != nil else { throw .notFound(inode: inode, name: nil) }
        if mask & W_OK != 0 { throw .readOnly(operation: "access for writing") }
    }

    // MARK: Reading

    /// Opens file `inode` for reading with `open(2)` flags; any write intent answers EROFS.
    /// Returns the handle number and whether the kernel may keep cached pages across opens (it
    /// always may: only verified bytes ever reach the page cache, and they never change).
    public func open(_ inode: UInt64, flags: Int32) throws(FSError) -> (handle: UInt64, keepCache: Bool) {
        guard let node = table.node(inode) else { throw .notFound(inode: inode, name: nil) }
        guard let fileIndex = node.fileIndex else { throw .isDirectory(inode: inode) }
        if flags & O_ACCMODE != O_RDONLY || flags & (O_TRUNC | O_CREAT | O_APPEND) != 0 {
            throw .readOnly(operation: "open for writing")
        }
        let handle = handles.insert {
            OpenFile(inode: inode, fileIndex: fileIndex, length: node.length,
                     reader: source.openReader(fileIndex: fileIndex))
        }
        return (handle, true)
    }

    /// Closes a handle and releases its reader's readahead window.
    public func release(_ handle: UInt64) {
        if let file = handles.remove(handle) { source.closeReader(file.reader) }
    }

    /// Closes every handle still open (the filesystem is going away).
    public func releaseAll() {
        for file in handles.removeAll() { source.closeReader(file.reader) }
    }

    /// Number of open file handles.
    public var openHandleCount: Int { handles.count }

    /// Reads up to `size` bytes at `offset` through `handle`. The range is clamped to the file;
    /// at or past its end the completion gets an empty span (fd -1, length 0) at once.
    /// `completion` runs exactly once, possibly before this returns.
    public func read(_ handle: UInt64, offset: Int64, size: Int,
                     completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void)
        throws(FSError) -> ReadTicket {
        guard let file = handles.file(handle) else { throw .badHandle(handle) }
        guard offset >= 0 else {
            completion(.failure(.invalidRange(file: file.fileIndex, offset: offset, length: size)))
            return .completed
        }
        let length = offset >= file.length ? 0 : Int(min(Int64(max(0, size)), file.length - offset))
        if length == 0 {
            completion(.success(ReadableSpan(fd: -1, offset: 0, length: 0)))
            return .completed
        }
        return source.read(file.reader, fileIndex: file.fileIndex, offset: offset, length: length,
                           completion: completion)
    }

    // MARK: Extended attributes

    /// The names of the extended attributes `inode` has.
    public func attributeNames(of inode: UInt64) throws(FSError) -> [String] {
        guard let node = table.node(inode) else { throw .notFound(inode: inode, name: nil) }
        if inode == InodeTable.rootInode { return [AttributeName.status] }
        return TorrentTree.fileAttributeNames(of: node)
    }

    /// The value of extended attribute `name` of `inode`.
    public func attribute(_ name: String, of inode: UInt64) throws(FSError) -> [UInt8] {
        guard let node = table.node(inode) else { throw .notFound(inode: inode, name: nil) }
        if inode == InodeTable.rootInode, name == AttributeName.status {
            return Array(statusJSON().utf8)
        }
        return try tree.fileAttribute(name, of: node, inode: inode) { source.statusSnapshot() }
    }

    /// The status document for the whole torrent, cut to fit an extended attribute.
    public func statusJSON() -> String {
        StatusJSON.encode(source.statusSnapshot(), extra: statusExtras, maxBytes: StatusJSON.attributeLimit)
    }

    /// "100.0" for a complete (or empty) file, otherwise one decimal, never rounded up to 100.
    static func percentage(_ part: Int64, of whole: Int64) -> String {
        TorrentTree.percentage(part, of: whole)
    }
}
