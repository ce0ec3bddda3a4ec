/// The whole file tree of a torrent, built once at mount time; metadata never waits for the
/// network. Lookups by name are O(1) (one dictionary keyed by parent and name); listings are
/// O(1) per entry at any offset, so `ls -lR` on 20,000 files is instant.
public final class InodeTable: Sendable {
    /// The mount root's inode number (FUSE_ROOT_ID).
    public static let rootInode: UInt64 = 1

    /// `nodes[inode - 1]`.
    private let nodes: [FSNode]
    /// Children of each directory in listing order; empty arrays for files.
    private let children: [[UInt64]]
    private let byName: [ChildKey: UInt64]

    /// Names compare byte for byte: `String` equality would make the NFC and NFD spellings of
    /// one name (two files on disk and in the torrent) the same entry.
    private struct ChildKey: Hashable {
        let parent: UInt64
        let name: String

        static func == (left: ChildKey, right: ChildKey) -> Bool {
            left.parent == right.parent && left.name.utf8.elementsEqual(right.name.utf8)
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(parent)
            let hashed: Void? = name.utf8.withContiguousStorageIfAvailable { bytes in
                hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
            }
            if hashed == nil {
                for byte in name.utf8 { hasher.combine(byte) }
            }
        }
    }

    /// Builds the tree from `files` (in torrent order). Names are expected to be sanitised
    /// already (by `PathSanitizer`); as a second line of defence, unusable components
    /// ("", ".", "..", or containing "/" or NUL) are replaced, and a name that collides with an
    /// existing entry gets a `~N` suffix, so every file stays reachable and inside the mount.
    public init(files: [FSFileEntry]) {
        var nodes: [FSNode] = [FSNode(inode: Self.rootInode, parent: Self.rootInode, name: "",
                                      kind: .directory, length: 0)]
        var children: [[UInt64]] = [[]]
        var byName: [ChildKey: UInt64] = [:]
        byName.reserveCapacity(files.count * 2)
        nodes.reserveCapacity(files.count + 16)

        func add(_ name: String, parent: UInt64, kind: FSNodeKind, length: Int64) -> UInt64 {
            var unique = name
            var suffix = 1
            while byName[ChildKey(parent: parent, name: unique)] != nil {
                suffix += 1
                unique = "\(name)~\(suffix)"
            }
            let inode = UInt64(nodes.count + 1)
            nodes.append(FSNode(inode: inode, parent: parent, name: unique, kind: kind, length: length))
            children.append([])
            children[Int(parent - 1)].append(inode)
            byName[ChildKey(parent: parent, name: unique)] = inode
            if kind == .directory { nodes[Int(parent - 1)].subdirectoryCount += 1 }
            return inode
        }

        for file in files {
            let components = file.path.isEmpty ? ["_"] : file.path.map(Self.safeComponent)
            var parent = Self.rootInode
            for directoryName in components.dropLast() {
                if let existing = byName[ChildKey(parent: parent, name: directoryName)],
                   nodes[Int(existing - 1)].isDirectory {
                    parent = existing
                } else {
                    // Absent, or a file of that name exists: a (possibly suffixed) new directory.
                    parent = add(directoryName, parent: parent, kind: .directory, length: 0)
                }
            }
            _ = add(components[components.count - 1], parent: parent,
                    kind: .file(fileIndex: file.fileIndex), length: max(0, file.length))
        }
        self.nodes = nodes
        self.children = children
        self.byName = byName
    }

    /// A path component that is safe to show: never empty, ".", "..", and without "/" or NUL.
    static func safeComponent(_ name: String) -> String {
        if name.isEmpty || name == "." || name == ".." { return "_" }
        if name.contains("/") || name.contains("\0") {
            return String(name.map { $0 == "/" || $0 == "\0" ? "_" : $0 })
        }
        return name
    }

    /// Number of inodes (directories and files, including the root).
    public var count: Int { nodes.count }

    /// The node with this inode number, or nil.
    public func node(_ inode: UInt64) -> FSNode? {
        guard inode >= 1, inode <= UInt64(nodes.count) else { return nil }
        return nodes[Int(inode - 1)]
    }

    /// The entry `name` in directory `parent`.
    public func lookup(parent: UInt64, name: String) throws(FSError) -> FSNode {
        guard let directory = node(parent) else { throw .notFound(inode: parent, name: nil) }
        guard directory.isDirectory else { throw .notDirectory(inode: parent) }
        if name == "." { return directory }
        if name == ".." { return nodes[Int(directory.parent - 1)] }
        guard let inode = byName[ChildKey(parent: parent, name: name)] else {
            throw .notFound(inode: parent, name: name)
        }
        return nodes[Int(inode - 1)]
    }

    /// Number of entries a listing of `directory` has, "." and ".." included.
    public func entryCount(of directory: UInt64) throws(FSError) -> Int {
        try checkDirectory(directory)
        return children[Int(directory - 1)].count + 2
    }

    /// The entry at `offset` of the listing of `directory` (0 is ".", 1 is "..", then the
    /// children in torrent order), or nil past the end.
    public func entry(of directory: UInt64, at offset: Int64) throws(FSError) -> FSDirectoryEntry? {
        let node = try checkDirectory(directory)
        let list = children[Int(directory - 1)]
        switch offset {
        case ..<0: return nil
        case 0: return FSDirectoryEntry(name: ".", inode: directory, isDirectory: true, nextOffset: 1)
        case 1: return FSDirectoryEntry(name: "..", inode: node.parent, isDirectory: true, nextOffset: 2)
        default:
            let index = offset - 2
            guard index < Int64(list.count) else { return nil }
            let child = nodes[Int(list[Int(index)] - 1)]
            return FSDirectoryEntry(name: child.name, inode: child.inode,
                                    isDirectory: child.isDirectory, nextOffset: offset + 1)
        }
    }

    /// The inodes directly inside `directory`, in listing order.
    public func children(of directory: UInt64) throws(FSError) -> [UInt64] {
        try checkDirectory(directory)
        return children[Int(directory - 1)]
    }

    /// The path of `inode` below the mount root, components joined by "/".
    public func path(of inode: UInt64) -> String? {
        guard var current = node(inode) else { return nil }
        var components: [String] = []
        while current.inode != Self.rootInode {
            components.append(current.name)
            current = nodes[Int(current.parent - 1)]
        }
        return components.reversed().joined(separator: "/")
    }

    @discardableResult
    private func checkDirectory(_ inode: UInt64) throws(FSError) -> FSNode {
        guard let node = node(inode) else { throw .notFound(inode: inode, name: nil) }
        guard node.isDirectory else { throw .notDirectory(inode: inode) }
        return node
    }
}
