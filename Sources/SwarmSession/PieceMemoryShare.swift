import SwarmPieces

/// One torrent's part of the engine's piece-memory budget (`PieceMemoryBudget`): how many pieces
/// it may have in flight, and telling the budget what they hold. Owned by the Foreman and
/// confined to its loop.
///
/// Invariants: registered with the budget from `init` until `leave`; the budget knows what our
/// pieces in flight held at the last pick or tick (`report` runs after both).
final class PieceMemoryShare {
    private let budget: PieceMemoryBudget
    private let key: Int
    private let pieceLength: Int
    /// The most pieces in flight whatever the budget says (a quarter of `--cache-size`).
    private let cap: Int

    init(budget: PieceMemoryBudget, pieceLength: Int, cap: Int) {
        self.budget = budget
        self.pieceLength = pieceLength
        self.cap = cap
        key = budget.register()
    }

    /// How many pieces may be in flight: what the engine's shared budget leaves us, within `cap`.
    var allowedPieces: Int {
        max(1, min(cap, budget.allowedPieces(for: key, pieceLength: pieceLength)))
    }

    /// Tells the budget what our pieces in flight hold now.
    func report(_ picker: PiecePicker) {
        let (bytes, overflow) = picker.piecesInProgress.multipliedReportingOverflow(by: pieceLength)
        budget.report(key, bytes: overflow ? .max : bytes)
    }

    /// The torrent stops: its memory is the other torrents' again.
    func leave() {
        budget.unregister(key)
    }
}
