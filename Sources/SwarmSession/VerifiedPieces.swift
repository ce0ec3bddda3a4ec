import SwarmMetainfo
import Synchronization

/// The gate between verified pieces and readers, shared by every thread.
///
/// A read whose pieces are all verified is served straight from the caller's thread without a
/// hop to the event loop; while it is being served its pieces are pinned, so eviction (which
/// punches holes in the cache files) can never pull bytes from under a reply.
final class VerifiedPieces: Sendable {
    private struct State {
        var bits: Bitfield
        /// Readers currently being served, per piece.
        var pins: [Int: Int] = [:]
    }

    private let state: Mutex<State>

    init(_ initial: Bitfield) {
        state = Mutex(State(bits: initial))
    }

    func insert(_ piece: Int) {
        state.withLock { $0.bits[piece] = true }
    }

    func containsAll(_ pieces: Range<Int>) -> Bool {
        state.withLock { state in pieces.allSatisfy { state.bits[$0] } }
    }

    /// Pins `pieces` for a reply if every one is verified; pair with `endRead`.
    func beginRead(_ pieces: Range<Int>) -> Bool {
        state.withLock { state in
            guard pieces.allSatisfy({ state.bits[$0] }) else { return false }
            for piece in pieces { state.pins[piece, default: 0] += 1 }
            return true
        }
    }

    func endRead(_ pieces: Range<Int>) {
        state.withLock { state in
            for piece in pieces {
                guard let count = state.pins[piece] else { continue }
                state.pins[piece] = count > 1 ? count - 1 : nil
            }
        }
    }

    /// Stops serving `piece` so that it can be evicted; refuses while a reply is using it.
    func withdraw(_ piece: Int) -> Bool {
        state.withLock { state in
            guard state.pins[piece] == nil else { return false }
            state.bits[piece] = false
            return true
        }
    }

    var snapshot: Bitfield { state.withLock { $0.bits } }
}
