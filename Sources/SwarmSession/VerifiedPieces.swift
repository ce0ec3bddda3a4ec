import SwarmMetainfo
import Synchronization

/// A thread-safe mirror of the verified pieces, so a read whose pieces are all verified is served
/// straight from the caller's thread without a hop to the event loop.
final class VerifiedPieces: Sendable {
    private let bits: Mutex<Bitfield>

    init(_ initial: Bitfield) {
        bits = Mutex(initial)
    }

    func insert(_ piece: Int) {
        bits.withLock { $0[piece] = true }
    }

    func remove(_ piece: Int) {
        bits.withLock { $0[piece] = false }
    }

    func containsAll(_ pieces: Range<Int>) -> Bool {
        bits.withLock { bits in pieces.allSatisfy { bits[$0] } }
    }

    var snapshot: Bitfield { bits.withLock { $0 } }
}
