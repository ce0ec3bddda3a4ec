/// One file the filesystem shows: its path below the mount root (the same as below the download
/// DIR, so a multi-file torrent's first component is the torrent's name), its length, the index
/// of the torrent file (`layout.files`) whose bytes it serves, and the pieces that cover it.
public struct FSFileEntry: Sendable, Equatable {
    public let path: [String]
    public let length: Int64
    public let fileIndex: Int
    /// The pieces holding the file's bytes; nil for an empty file.
    public let pieces: ClosedRange<Int>?

    public init(path: [String], length: Int64, fileIndex: Int, pieces: ClosedRange<Int>? = nil) {
        self.path = path
        self.length = length
        self.fileIndex = fileIndex
        self.pieces = pieces
    }
}
