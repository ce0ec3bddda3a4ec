/// What an inode is: a directory, or a file backed by torrent file `fileIndex`.
public enum FSNodeKind: Sendable, Equatable {
    case directory
    case file(fileIndex: Int)
}

/// One inode of the tree. Inode numbers are stable for a given torrent: they follow the order of
/// the torrent's file list, so remounting the same torrent gives the same numbers.
public struct FSNode: Sendable, Equatable {
    /// The inode number; the root is `InodeTable.rootInode`.
    public let inode: UInt64
    /// The containing directory (the root is its own parent).
    public let parent: UInt64
    /// The name in the parent directory (empty for the root).
    public let name: String
    public let kind: FSNodeKind
    /// Bytes in the file; 0 for directories.
    public let length: Int64
    /// Subdirectories directly inside (for the directory link count).
    public internal(set) var subdirectoryCount: Int = 0

    public var isDirectory: Bool { kind == .directory }

    /// The torrent file index, or nil for a directory.
    public var fileIndex: Int? {
        if case let .file(index) = kind { return index }
        return nil
    }
}

/// One entry of a directory listing as `readdir` returns it: `nextOffset` is the offset to
/// resume after this entry.
public struct FSDirectoryEntry: Sendable, Equatable {
    public let name: String
    public let inode: UInt64
    public let isDirectory: Bool
    public let nextOffset: Int64
}
