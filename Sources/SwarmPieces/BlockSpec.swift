/// Identifies a peer connection inside one torrent. Assigned by the session; the picker only
/// compares them.
public typealias PeerKey = Int32

/// One block to request: `length` bytes at `begin` inside `piece`.
public struct BlockSpec: Hashable, Sendable {
    public let piece: Int
    public let begin: Int
    public let length: Int

    public init(piece: Int, begin: Int, length: Int) {
        self.piece = piece
        self.begin = begin
        self.length = length
    }
}

/// What a received block meant to the picker.
public enum BlockReceipt: Equatable, Sendable {
    /// A block we wanted. `alsoRequestedFrom` holds a peer that still has the same block
    /// outstanding (a race or endgame duplicate): the session sends it a `cancel`.
    case accepted(pieceComplete: Bool, alsoRequestedFrom: PeerKey?)
    /// A block we already have, or of a piece we are not downloading: drop it.
    case unwanted
}
