/// One file of a torrent, as laid out in the torrent's byte stream.
public struct TorrentFile: Sendable, Hashable {
    /// Position in `FileLayout.files` (padding files included).
    public let index: Int
    /// Sanitised components relative to the download DIR: `["name"]` for a single-file torrent,
    /// `["name", "sub", "file.ext"]` for a multi-file one.
    public let path: [String]
    /// Length in bytes (>= 0).
    public let length: Int64
    /// Start of the file in the torrent's byte stream.
    public let offset: Int64
    /// A BEP 47 padding file (attr `p`): part of the geometry, never shown or stored.
    public let isPadding: Bool

    /// Creates a file entry.
    public init(index: Int, path: [String], length: Int64, offset: Int64, isPadding: Bool) {
        self.index = index
        self.path = path
        self.length = length
        self.offset = offset
        self.isPadding = isPadding
    }

    /// The path joined with `/`.
    public var joinedPath: String { path.joined(separator: "/") }

    /// One past the last byte of the file in the torrent's byte stream.
    public var endOffset: Int64 { offset + length }
}

/// A run of bytes that lies in one file: `length` bytes at `fileOffset` of file `fileIndex`,
/// which are the bytes at `torrentOffset` of the torrent's byte stream.
public struct FileSlice: Sendable, Hashable {
    /// Index into `FileLayout.files`.
    public let fileIndex: Int
    /// Offset inside that file.
    public let fileOffset: Int64
    /// Offset in the torrent's byte stream.
    public let torrentOffset: Int64
    /// Number of bytes (> 0).
    public let length: Int

    /// Creates a slice.
    public init(fileIndex: Int, fileOffset: Int64, torrentOffset: Int64, length: Int) {
        self.fileIndex = fileIndex
        self.fileOffset = fileOffset
        self.torrentOffset = torrentOffset
        self.length = length
    }
}
