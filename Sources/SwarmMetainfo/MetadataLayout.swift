/// How BEP 9 cuts an info dictionary ("the metadata") into pieces for `ut_metadata`: 16 KiB each,
/// the last one possibly shorter.
///
/// Invariant: `1 <= totalSize <= maxTotalSize`, so `pieceCount` is 1...`maxPieceCount`.
public struct MetadataLayout: Hashable, Sendable {
    /// The size of every metadata piece but the last (BEP 9).
    public static let pieceLength = 16 * 1024
    /// The largest info dictionary we fetch from peers. Real ones reach a few MiB (one 20-byte
    /// hash per piece); a peer claiming more is refused before anything is allocated.
    public static let maxTotalSize = 32 * 1024 * 1024
    /// The most pieces a layout can have (2048).
    public static let maxPieceCount = maxTotalSize / pieceLength

    /// The size of the info dictionary in bytes.
    public let totalSize: Int

    /// The layout of a `totalSize`-byte info dictionary, as a peer states it (`metadata_size`,
    /// `total_size`); throws unless it is 1...`maxTotalSize`.
    public init(totalSize: Int64) throws(MetadataError) {
        guard totalSize >= 1, totalSize <= Int64(Self.maxTotalSize) else {
            throw .sizeOutOfRange(size: totalSize, limit: Self.maxTotalSize)
        }
        self.totalSize = Int(totalSize)
    }

    /// The number of pieces.
    public var pieceCount: Int { (totalSize + Self.pieceLength - 1) / Self.pieceLength }

    /// The byte range of `piece` in the info dictionary; nil when there is no such piece.
    public func range(ofPiece piece: Int) -> Range<Int>? {
        guard piece >= 0, piece < pieceCount else { return nil }
        let start = piece * Self.pieceLength
        return start..<min(totalSize, start + Self.pieceLength)
    }

    /// The length of `piece`: 16 KiB, or what remains for the last one; nil when there is no such piece.
    public func length(ofPiece piece: Int) -> Int? {
        range(ofPiece: piece)?.count
    }
}
