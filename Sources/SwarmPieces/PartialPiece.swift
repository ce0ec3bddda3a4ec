/// Block bookkeeping of one piece in progress: which blocks arrived and which peers (at most two,
/// for races) each outstanding block is requested from. A class so that updating one block
/// mutates in place instead of copying the arrays (this runs for every block received).
///
/// Kept by `PiecePicker`, which upholds the invariants:
/// - `receivedCount` is the number of `received` blocks; a received block is requested from
///   nobody (`first` and `second` are `nobody`).
/// - `second[b]` names a peer only while `first[b]` does (the racer of a block comes second).
/// - `unrequested` counts the blocks neither received nor requested (`first` is `nobody`), and
///   no such block lies before `firstFree`.
final class PartialPiece {
    static let nobody: PeerKey = -1

    let blockCount: Int
    var received: [Bool]
    var first: [PeerKey]
    var second: [PeerKey]
    var receivedCount = 0
    /// Blocks neither received nor requested from anybody.
    var unrequested: Int
    /// No free block lies before this index.
    var firstFree = 0

    init(blockCount: Int) {
        self.blockCount = blockCount
        received = Array(repeating: false, count: blockCount)
        first = Array(repeating: Self.nobody, count: blockCount)
        second = Array(repeating: Self.nobody, count: blockCount)
        unrequested = blockCount
    }

    func advanceFirstFree() {
        while firstFree < blockCount, received[firstFree] || first[firstFree] != Self.nobody { firstFree += 1 }
    }
}
