#if canImport(Glibc)
import Glibc
#endif
import SwarmMetainfo
import SwarmContent
import Synchronization

/// The read-only filesystem of a library: a root holding one folder per torrent, added, renamed
/// and removed while mounted. Each folder is a `TorrentTree` shifted into an inode range of its
/// own (`LibraryVolume`); ranges are never reused, so inode numbers stay unique for the life of
/// the mount and every entry's generation is constant.
///
/// Invariants: `volumes` is sorted by `base` (ranges are handed out in increasing order and
/// never overlap); `names` and `byName` hold exactly the volumes in `volumes`, one name each, no
/// two alike (byte for byte). Requests find a volume in O(log n) and then touch only it.
/// Listing offsets at the root are folder inodes, so a listing running while folders come and
/// go returns every unchanged folder exactly once.
public final class LibraryFileSystem: MountedFileSystem {
    private struct State {
        var volumes: [LibraryVolume] = []
        var names: [UInt64: String] = [:]
        var byName: [ByteName: LibraryVolume] = [:]
        var nextBase: UInt64 = InodeTable.rootInode + 1
        var totalLength: Int64 = 0
        var inodeCount = 1
        var pending: [LibraryPendingTorrent] = []
        var problems: [LibraryFileProblem] = []

        /// The index in `volumes` of the volume holding `inode`, if any.
        func index(holding inode: UInt64) -> Int? {
            let candidate = firstIndex(withBaseAtLeast: inode &+ 1) - 1
            guard candidate >= 0, volumes[candidate].contains(inode) else { return nil }
            return candidate
        }

        /// The first index whose base is >= `inode` (volumes.count if none).
        func firstIndex(withBaseAtLeast inode: UInt64) -> Int {
            var low = 0
            var high = volumes.count
            while low < high {
                let middle = (low + high) / 2
                if volumes[middle].base < inode { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    public let ownership: FSOwnership
    /// Extra top-level fields of the status JSON (the library folder, mountpoint, daemon pid).
    public let statusExtras: [(String, String)]
    private let state = Mutex(State())
    private let handles = OpenFileTable<LibraryOpenFile>()
    private let notifier = Mutex<(any FSChangeNotifier)?>(nil)

    /// An empty library root owned by `ownership`.
    public init(ownership: FSOwnership, statusExtras: [(String, String)] = []) {
        self.ownership = ownership
        self.statusExtras = statusExtras
    }

    /// Where changes are reported (the FUSE mount, once mounted).
    public func setNotifier(_ newNotifier: (any FSChangeNotifier)?) {
        notifier.withLock { $0 = newNotifier }
    }

    // MARK: Changes

    /// Applies one batch of changes at once: removes the folders `removing` (folder inodes),
    /// renames `renaming`, then adds `adding`; returns the new folders' inodes in order. The
    /// kernel is told of every name involved. Removed folders' sources are closed to the
    /// filesystem before this returns (their open files then read EIO); shutting the sources
    /// down is the caller's business.
    @discardableResult
    public func update(removing: [UInt64] = [], renaming: [(folder: UInt64, name: String)] = [],
                       adding: [LibraryFolder] = []) -> [UInt64] {
        var changedNames: [String] = []
        var removed: [LibraryVolume] = []
        let added: [UInt64] = state.withLock { state in
            for folder in Set(removing) {
                guard let index = state.index(holding: folder), state.volumes[index].base == folder else { continue }
                let volume = state.volumes.remove(at: index)
                if let name = state.names.removeValue(forKey: folder) {
                    state.byName.removeValue(forKey: ByteName(name))
                    changedNames.append(name)
                }
                state.totalLength -= volume.tree.totalLength
                state.inodeCount -= volume.tree.table.count
                removed.append(volume)
            }
            // Renames may swap names: take every old name out before giving the new ones.
            var renamed: [(LibraryVolume, String)] = []
            for (folder, name) in renaming {
                guard let index = state.index(holding: folder), state.volumes[index].base == folder,
                      let old = state.names.removeValue(forKey: folder) else { continue }
                state.byName.removeValue(forKey: ByteName(old))
                changedNames.append(old)
                renamed.append((state.volumes[index], name))
            }
            for (volume, name) in renamed {
                let unique = Self.uniqueName(name, in: state, folder: volume.base)
                state.names[volume.base] = unique
                state.byName[ByteName(unique)] = volume
                changedNames.append(unique)
            }
            var inodes: [UInt64] = []
            for folder in adding {
                let volume = makeVolume(folder, base: state.nextBase)
                // Ranges never overlap and never come back; the sum cannot wrap in practice
                // (2^64 inodes), but a hostile count must not trap either.
                state.nextBase = volume.lastInode &+ 1
                let unique = Self.uniqueName(folder.name, in: state, folder: volume.base)
                state.volumes.append(volume)
                state.names[volume.base] = unique
                state.byName[ByteName(unique)] = volume
                state.totalLength += volume.tree.totalLength
                state.inodeCount += volume.tree.table.count
                changedNames.append(unique)
                inodes.append(volume.base)
            }
            return inodes
        }
        for volume in removed { volume.gate?.close() }
        if !changedNames.isEmpty, let notifier = notifier.withLock({ $0 }) {
            for name in changedNames { notifier.entryChanged(parent: InodeTable.rootInode, name: name) }
            notifier.inodeChanged(InodeTable.rootInode)
        }
        return added
    }

    /// What `status` says besides the folders: torrents still starting (in any order: they are
    /// sorted when a status is read, not each time one starts), files that show nothing.
    public func setNotes(pending: [LibraryPendingTorrent], problems: [LibraryFileProblem]) {
        state.withLock { state in
            state.pending = pending
            state.problems = problems
        }
    }

    /// The folders at the root: name, inode, info-hash, in listing order.
    public func folders() -> [(name: String, inode: UInt64, infoHash: String)] {
        state.withLock { state in
            state.volumes.map { (state.names[$0.base] ?? "", $0.base, $0.infoHash) }
        }
    }

    /// The running torrents, in listing order, for an HTTP server beside (or instead of) the mount.
    public func servedTorrents() -> [LibraryServedTorrent] {
        let folders = state.withLock { state in state.volumes.map { ($0, state.names[$0.base] ?? "") } }
        let extras = statusExtras
        return folders.compactMap { volume, name in
            guard let gate = volume.gate else { return nil }
            return LibraryServedTorrent(folder: name, infoHash: volume.infoHash, content: GatedContentSource(gate),
                                        statusJSON: { LibraryStatusJSON.folder(volume, name: name, extra: extras) })
        }
    }

    private func makeVolume(_ folder: LibraryFolder, base: UInt64) -> LibraryVolume {
        switch folder.content {
        case let .torrent(metainfo, source):
            let time = metainfo.creationDate.map { $0 > 0 ? $0 : ownership.time } ?? ownership.time
            return LibraryVolume(base: base, infoHash: folder.infoHash, torrentName: metainfo.name,
                                 tree: TorrentTree.libraryFolder(of: metainfo), gate: SourceGate(source),
                                 state: "running", reason: nil,
                                 ownership: FSOwnership(uid: ownership.uid, gid: ownership.gid, time: time))
        case let .placeholder(name, state, reason):
            return LibraryVolume(base: base, infoHash: folder.infoHash, torrentName: name, tree: .empty,
                                 gate: nil, state: state, reason: reason, ownership: ownership)
        }
    }

    /// `name` made usable as a root entry and unique there (a second line of defence: the
    /// library's bookkeeping hands out unique names already).
    private static func uniqueName(_ name: String, in state: State, folder: UInt64) -> String {
        let safe = InodeTable.safeComponent(name)
        guard let holder = state.byName[ByteName(safe)], holder.base != folder else { return safe }
        return "\(safe) ~\(folder)"
    }

    // MARK: Lookups

    /// The volume whose inode range holds `inode`.
    private func volume(holding inode: UInt64) -> LibraryVolume? {
        state.withLock { state in state.index(holding: inode).map { state.volumes[$0] } }
    }

    private func rootAttributes() -> FSAttributes {
        let folders = state.withLock { $0.volumes.count }
        return FSAttributes(inode: InodeTable.rootInode, mode: FSAttributes.directoryType | 0o555,
                            linkCount: UInt32(clamping: 2 + folders), uid: ownership.uid, gid: ownership.gid,
                            size: 4096, blocks: 8, blockSize: InodeTable.preferredBlockSize, time: ownership.time)
    }

    /// The attributes of `volume`'s node `local`, numbered in the library.
    private static func attributes(of node: FSNode, in volume: LibraryVolume) -> FSAttributes {
        InodeTable.attributes(of: node, ownership: volume.ownership).renumbered(volume.global(node.inode))
    }

    public func lookup(parent: UInt64, name: String) throws(FSError) -> FSAttributes {
        if parent == InodeTable.rootInode {
            if name == "." || name == ".." { return rootAttributes() }
            guard let volume = state.withLock({ $0.byName[ByteName(name)] }),
                  let node = volume.tree.table.node(InodeTable.rootInode) else {
                throw .notFound(inode: parent, name: name)
            }
            return Self.attributes(of: node, in: volume)
        }
        guard let volume = volume(holding: parent) else { throw .notFound(inode: parent, name: nil) }
        let local = volume.local(parent)
        if name == "..", local == InodeTable.rootInode { return rootAttributes() }
        let node: FSNode
        do {
            node = try volume.tree.table.lookup(parent: local, name: name)
        } catch {
            throw error.renumbered(parent)
        }
        return Self.attributes(of: node, in: volume)
    }

    public func attributes(of inode: UInt64) throws(FSError) -> FSAttributes {
        if inode == InodeTable.rootInode { return rootAttributes() }
        guard let volume = volume(holding: inode), let node = volume.tree.table.node(volume.local(inode)) else {
            throw .notFound(inode: inode, name: nil)
        }
        return Self.attributes(of: node, in: volume)
    }

    public func directoryEntry(of directory: UInt64, at offset: Int64) throws(FSError) -> FSDirectoryEntry? {
        if directory == InodeTable.rootInode {
            switch offset {
            case ..<0: return nil
            case 0: return FSDirectoryEntry(name: ".", inode: directory, isDirectory: true, nextOffset: 1)
            case 1: return FSDirectoryEntry(name: "..", inode: directory, isDirectory: true, nextOffset: 2)
            default:
                return state.withLock { state in
                    let index = state.firstIndex(withBaseAtLeast: UInt64(offset))
                    guard index < state.volumes.count else { return nil }
                    let volume = state.volumes[index]
                    return FSDirectoryEntry(name: state.names[volume.base] ?? "", inode: volume.base,
                                            isDirectory: true, nextOffset: Int64(clamping: volume.base &+ 1))
                }
            }
        }
        guard let volume = volume(holding: directory) else { throw .notFound(inode: directory, name: nil) }
        let local = volume.local(directory)
        let entry: FSDirectoryEntry?
        do {
            entry = try volume.tree.table.entry(of: local, at: offset)
        } catch {
            throw error.renumbered(directory)
        }
        guard let entry else { return nil }
        let inode = entry.name == ".." && local == InodeTable.rootInode
            ? InodeTable.rootInode : volume.global(entry.inode)
        return FSDirectoryEntry(name: entry.name, inode: inode, isDirectory: entry.isDirectory,
                                nextOffset: entry.nextOffset)
    }

    public func checkDirectory(_ inode: UInt64) throws(FSError) {
        if inode == InodeTable.rootInode { return }
        guard let volume = volume(holding: inode), let node = volume.tree.table.node(volume.local(inode)) else {
            throw .notFound(inode: inode, name: nil)
        }
        guard node.isDirectory else { throw .notDirectory(inode: inode) }
    }

    public func statistics() -> (blockSize: UInt64, blocks: UInt64, files: UInt64, nameMax: UInt64) {
        let (length, count) = state.withLock { ($0.totalLength, $0.inodeCount) }
        let blockSize: UInt64 = 4096
        return (blockSize, (UInt64(max(0, length)) + blockSize - 1) / blockSize, UInt64(max(1, count)), 255)
    }

    public func checkAccess(_ inode: UInt64, mask: Int32) throws(FSError) {
        _ = try attributes(of: inode)
        if mask & W_OK != 0 { throw .readOnly(operation: "access for writing") }
    }

    public func entriesMayChange(in directory: UInt64) -> Bool {
        directory == InodeTable.rootInode
    }

    // MARK: Reading

    public func open(_ inode: UInt64, flags: Int32) throws(FSError) -> (handle: UInt64, keepCache: Bool) {
        guard inode != InodeTable.rootInode else { throw .isDirectory(inode: inode) }
        guard let volume = volume(holding: inode), let node = volume.tree.table.node(volume.local(inode)) else {
            throw .notFound(inode: inode, name: nil)
        }
        guard let fileIndex = node.fileIndex else { throw .isDirectory(inode: inode) }
        if flags & O_ACCMODE != O_RDONLY || flags & (O_TRUNC | O_CREAT | O_APPEND) != 0 {
            throw .readOnly(operation: "open for writing")
        }
        // A removed torrent's files are gone, even for a path the kernel still had.
        guard let gate = volume.gate, let reader = gate.openReader(fileIndex: fileIndex) else {
            throw .notFound(inode: inode, name: nil)
        }
        let handle = handles.insert {
            LibraryOpenFile(volume: volume, fileIndex: fileIndex, length: node.length, reader: reader)
        }
        return (handle, true)
    }

    public func release(_ handle: UInt64) {
        if let file = handles.remove(handle) { file.volume.gate?.closeReader(file.reader) }
    }

    public func releaseAll() {
        for file in handles.removeAll() { file.volume.gate?.closeReader(file.reader) }
    }

    /// Number of open file handles.
    public var openHandleCount: Int { handles.count }

    public func read(_ handle: UInt64, offset: Int64, size: Int,
                     completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void)
        throws(FSError) -> ReadTicket {
        guard let file = handles.file(handle), let gate = file.volume.gate else { throw .badHandle(handle) }
        guard offset >= 0 else {
            completion(.failure(.invalidRange(file: file.fileIndex, offset: offset, length: size)))
            return .completed
        }
        let length = offset >= file.length ? 0 : Int(min(Int64(max(0, size)), file.length - offset))
        if length == 0 {
            completion(.success(ReadableSpan(fd: -1, offset: 0, length: 0)))
            return .completed
        }
        return gate.read(file.reader, fileIndex: file.fileIndex, offset: offset, length: length,
                         completion: completion)
    }

    // MARK: Extended attributes

    public func attributeNames(of inode: UInt64) throws(FSError) -> [String] {
        if inode == InodeTable.rootInode { return [FSAttributeName.status] }
        guard let volume = volume(holding: inode), let node = volume.tree.table.node(volume.local(inode)) else {
            throw .notFound(inode: inode, name: nil)
        }
        if node.inode == InodeTable.rootInode { return [FSAttributeName.status] }
        return TorrentTree.fileAttributeNames(of: node)
    }

    public func attribute(_ name: String, of inode: UInt64) throws(FSError) -> [UInt8] {
        if inode == InodeTable.rootInode {
            guard name == FSAttributeName.status else { throw .noAttribute(inode: inode, name: name) }
            return Array(statusJSON().utf8)
        }
        guard let volume = volume(holding: inode), let node = volume.tree.table.node(volume.local(inode)) else {
            throw .notFound(inode: inode, name: nil)
        }
        if node.inode == InodeTable.rootInode {
            guard name == FSAttributeName.status else { throw .noAttribute(inode: inode, name: name) }
            let folder = state.withLock { $0.names[volume.base] } ?? ""
            return Array(LibraryStatusJSON.folder(volume, name: folder, extra: statusExtras).utf8)
        }
        return try volume.tree.fileAttribute(name, of: node, inode: inode) { volume.gate?.status() }
    }

    /// The status document of the whole library, cut to fit an extended attribute.
    public func statusJSON() -> String {
        let (folders, pending, problems) = state.withLock { state in
            (state.volumes.map { ($0, state.names[$0.base] ?? "") }, state.pending, state.problems)
        }
        let sortedPending = pending.sorted { $0.folder.utf8.lexicographicallyPrecedes($1.folder.utf8) }
        return LibraryStatusJSON.library(folders: folders, pending: sortedPending, problems: problems,
                                         extra: statusExtras, maxBytes: StatusJSON.attributeLimit)
    }
}

/// A name compared byte for byte (NFC and NFD spellings are two names, as on Linux).
struct ByteName: Hashable {
    let name: String

    init(_ name: String) { self.name = name }

    static func == (left: ByteName, right: ByteName) -> Bool {
        left.name.utf8.elementsEqual(right.name.utf8)
    }

    func hash(into hasher: inout Hasher) {
        for byte in name.utf8 { hasher.combine(byte) }
    }
}

extension FSAttributes {
    /// The same attributes under another inode number.
    func renumbered(_ inode: UInt64) -> FSAttributes {
        FSAttributes(inode: inode, mode: mode, linkCount: linkCount, uid: uid, gid: gid, size: size,
                     blocks: blocks, blockSize: blockSize, time: time)
    }
}

extension FSError {
    /// The error as seen from the library: `inode` instead of the tree's own number.
    func renumbered(_ inode: UInt64) -> FSError {
        switch self {
        case let .notFound(_, name): .notFound(inode: inode, name: name)
        case .notDirectory: .notDirectory(inode: inode)
        case .isDirectory: .isDirectory(inode: inode)
        default: self
        }
    }
}
