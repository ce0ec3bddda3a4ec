/// One block of a piece as named on the wire by `request`, `cancel` and `reject` (BEP 3, BEP 6).
public struct BlockRequest: Hashable, Sendable {
    /// The zero-based piece index.
    public var piece: UInt32
    /// The byte offset of the block inside the piece.
    public var begin: UInt32
    /// The block length in bytes (normally 16 KiB; less for the last block of the torrent).
    public var length: UInt32

    /// Creates a request for `length` bytes at `begin` in `piece`.
    public init(piece: UInt32, begin: UInt32, length: UInt32) {
        self.piece = piece
        self.begin = begin
        self.length = length
    }
}
