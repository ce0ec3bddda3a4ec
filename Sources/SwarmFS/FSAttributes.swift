/// The attributes `stat` shows for an inode. Files are 0444 and directories 0555, owned by the
/// user who mounted; times are the torrent's creation date or the mount time.
public struct FSAttributes: Sendable, Equatable {
    /// S_IFDIR: directory type bits of `st_mode`.
    public static let directoryType: UInt32 = 0o040000
    /// S_IFREG: regular file type bits of `st_mode`.
    public static let regularFileType: UInt32 = 0o100000

    public let inode: UInt64
    /// Type and permission bits, as in `st_mode`.
    public let mode: UInt32
    public let linkCount: UInt32
    public let uid: UInt32
    public let gid: UInt32
    public let size: Int64
    /// 512-byte blocks the file occupies once complete (`st_blocks`).
    public let blocks: Int64
    /// Preferred I/O size: large so that `cp` and friends read in big chunks.
    public let blockSize: Int32
    /// Seconds since the epoch for mtime, ctime and atime.
    public let time: Int64

    public var isDirectory: Bool { mode & 0o170000 == Self.directoryType }
}

/// Who owns the tree and what time it shows.
public struct FSOwnership: Sendable, Equatable {
    public let uid: UInt32
    public let gid: UInt32
    /// mtime/ctime/atime of every inode (the torrent's creation date or the mount time).
    public let time: Int64

    public init(uid: UInt32, gid: UInt32, time: Int64) {
        self.uid = uid
        self.gid = gid
        self.time = time
    }
}

extension InodeTable {
    /// Preferred I/O size reported in `st_blksize`.
    public static let preferredBlockSize: Int32 = 1 << 20

    /// The attributes of `inode`.
    public func attributes(of inode: UInt64, ownership: FSOwnership) throws(FSError) -> FSAttributes {
        guard let node = node(inode) else { throw .notFound(inode: inode, name: nil) }
        return Self.attributes(of: node, ownership: ownership)
    }

    /// The attributes of `node` (no lookup).
    public static func attributes(of node: FSNode, ownership: FSOwnership) -> FSAttributes {
        if node.isDirectory {
            return FSAttributes(inode: node.inode, mode: FSAttributes.directoryType | 0o555,
                                linkCount: UInt32(clamping: 2 + node.subdirectoryCount),
                                uid: ownership.uid, gid: ownership.gid, size: 4096, blocks: 8,
                                blockSize: preferredBlockSize, time: ownership.time)
        }
        let blocks = node.length / 512 + (node.length % 512 == 0 ? 0 : 1)
        return FSAttributes(inode: node.inode, mode: FSAttributes.regularFileType | 0o444,
                            linkCount: 1, uid: ownership.uid, gid: ownership.gid,
                            size: node.length, blocks: blocks, blockSize: preferredBlockSize,
                            time: ownership.time)
    }
}
