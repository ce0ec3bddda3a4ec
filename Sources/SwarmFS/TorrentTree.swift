import SwarmMetainfo
import SwarmContent

/// The file tree of one torrent and what its files report (progress, pieces): built once from the
/// metadata and never changed, so any number of threads may read it. Inode numbers here are the
/// tree's own (its root is `InodeTable.rootInode`); a library shifts them into its inode space.
public final class TorrentTree: Sendable {
    public let table: InodeTable
    /// Sum of the files' lengths.
    public let totalLength: Int64
    /// Each shown file's entry and its position in `statusSnapshot().files`.
    private let entriesByFileIndex: [Int: (entry: FSFileEntry, position: Int)]

    /// A tree showing `entries` (in the order of the source's `statusSnapshot().files`).
    public init(entries: [FSFileEntry]) {
        table = InodeTable(files: entries)
        var byIndex: [Int: (entry: FSFileEntry, position: Int)] = [:]
        byIndex.reserveCapacity(entries.count)
        for (position, entry) in entries.enumerated() { byIndex[entry.fileIndex] = (entry, position) }
        entriesByFileIndex = byIndex
        totalLength = entries.reduce(0) { $0 + max(0, $1.length) }
    }

    /// The tree of a torrent's folder in a library: the torrent's files below its own top folder
    /// (a multi-file torrent's first path component is its name, which the library folder shows
    /// already), or the one file of a single-file torrent.
    public static func libraryFolder(of metainfo: Metainfo) -> TorrentTree {
        let entries = FSFileEntry.entries(of: metainfo)
        guard !metainfo.isSingleFile else { return TorrentTree(entries: entries) }
        return TorrentTree(entries: entries.map { entry in
            FSFileEntry(path: entry.path.count > 1 ? Array(entry.path.dropFirst()) : entry.path,
                        length: entry.length, fileIndex: entry.fileIndex, pieces: entry.pieces)
        })
    }

    /// An empty folder (a torrent whose metadata is not known, or that could not start).
    public static let empty = TorrentTree(entries: [])

    /// The extended attributes of a file node (directories have none of these).
    static func fileAttributeNames(of node: FSNode) -> [String] {
        node.isDirectory ? [] : [FSAttributeName.progress, FSAttributeName.pieces]
    }

    /// The value of per-file attribute `name` of `node`; `inode` is the number the caller knows
    /// the node by (for the error).
    func fileAttribute(_ name: String, of node: FSNode, inode: UInt64,
                       status: () -> SessionStatus?) throws(FSError) -> [UInt8] {
        guard let fileIndex = node.fileIndex, let (entry, position) = entriesByFileIndex[fileIndex] else {
            throw .noAttribute(inode: inode, name: name)
        }
        switch name {
        case FSAttributeName.progress:
            let files = status()?.files ?? []
            let verified = position < files.count ? files[position].verifiedBytes : 0
            return Array(Self.percentage(verified, of: entry.length).utf8)
        case FSAttributeName.pieces:
            return Array((entry.pieces.map { "\($0.lowerBound)-\($0.upperBound)" } ?? "none").utf8)
        default:
            throw .noAttribute(inode: inode, name: name)
        }
    }

    /// "100.0" for a complete (or empty) file, otherwise one decimal, never rounded up to 100.
    static func percentage(_ part: Int64, of whole: Int64) -> String {
        guard whole > 0, part < whole else { return "100.0" }
        let tenths = min(999, Int(Double(max(0, part)) * 1000 / Double(whole)))
        return "\(tenths / 10).\(tenths % 10)"
    }
}
