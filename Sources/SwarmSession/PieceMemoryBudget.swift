/// The engine's piece-memory budget: bytes of piece buffers (assembling or waiting for their
/// hash) that all torrents together may hold.
///
/// Confined to the engine's event loop. Invariants: `used` is the sum of `usage`'s values; a
/// torrent's entry is removed when it stops. A torrent alone may hold the whole budget (and at
/// least `floorPieces`, as before there was an engine); with others holding memory it may start
/// pieces while the budget has room, and always one, so no torrent starves.
final class PieceMemoryBudget {
    let totalBytes: Int
    private var usage: [Int: Int] = [:]
    private var used = 0
    private var nextTorrent = 0
    /// What a torrent alone may always hold, whatever its piece size.
    static let floorPieces = 4

    init(totalBytes: Int) {
        self.totalBytes = max(0, totalBytes)
    }

    /// A key for a new torrent's usage.
    func register() -> Int {
        nextTorrent &+= 1
        usage[nextTorrent] = 0
        return nextTorrent
    }

    func unregister(_ torrent: Int) {
        used -= usage.removeValue(forKey: torrent) ?? 0
    }

    /// Records what `torrent` holds now.
    func report(_ torrent: Int, bytes: Int) {
        guard let old = usage[torrent] else { return }
        let clamped = max(0, bytes)
        usage[torrent] = clamped
        used += clamped - old
    }

    /// How many pieces of `pieceLength` bytes `torrent` may hold in all (those it holds included).
    func allowedPieces(for torrent: Int, pieceLength: Int) -> Int {
        let length = max(1, pieceLength)
        let mine = usage[torrent] ?? 0
        let others = used - mine
        let room = max(0, totalBytes - others)
        let floor = others == 0 ? Self.floorPieces : 1
        return max(floor, room / length)
    }
}
