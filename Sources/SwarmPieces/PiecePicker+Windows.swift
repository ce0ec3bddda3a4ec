extension PiecePicker {
    /// Sets (or with `nil` clears) the readahead window of one reader.
    public mutating func setWindow(reader: UInt64, pieces: Range<Int>?) {
        setWindow(key: reader & ~Self.tailKeyBit, pieces: pieces)
    }

    /// Sets (or clears) the end of the file a reader opened, fetched as soon as its readahead is
    /// (*soon*) and ahead of it: a player reads a container's index there right after the
    /// first bytes (an MP4 whose `moov` is at the end, Matroska's cues).
    public mutating func setTailWindow(reader: UInt64, pieces: Range<Int>?) {
        setWindow(key: reader | Self.tailKeyBit, pieces: pieces)
    }

    /// Marks a tail window's key in `windows` (reader ids never reach it).
    static let tailKeyBit: UInt64 = 1 << 63

    mutating func setWindow(key: UInt64, pieces: Range<Int>?) {
        if let pieces, !pieces.isEmpty {
            windows[key] = pieces.clamped(to: 0..<pieceCount)
        } else {
            windows[key] = nil
        }
    }

    /// A window's pieces in the order they are started: a tail from the file's end backwards,
    /// readahead forwards. A player's index at the end of a file ends at the file's last byte
    /// and usually fits in the last piece (a 90 s MP4's `moov`: 97 KB), so that piece goes
    /// first; fetched forwards, the piece before it took the first turn and the player's read
    /// of the index waited a round trip more (at 40 ms one way: 75 ms).
    struct WindowOrder {
        let pieces: Range<Int>
        let fromEnd: Bool

        /// The `offset`-th piece to start (`offset < pieces.count`).
        func piece(_ offset: Int) -> Int {
            fromEnd ? pieces.upperBound - 1 - offset : pieces.lowerBound + offset
        }
    }

    /// The tail windows alone.
    var tailWindows: [WindowOrder] {
        windows.filter { $0.key & Self.tailKeyBit != 0 }.map { WindowOrder(pieces: $0.value, fromEnd: true) }
    }

    /// The piece each reader needs next: the first of its readahead window that is neither
    /// here nor waited for. It is shared out among the peers like a waited piece (`nowShare`),
    /// since a read is likely to wait for it next; left to the piece-per-peer rule of other
    /// readahead, one peer took it whole and a player reading on from a seek into it waited for
    /// that peer's rate (at 100 ms one way and 4 MiB/s a peer: 180 ms for a 1 MiB piece, a
    /// quarter of it each takes 60).
    var readaheadHeads: [Int] {
        windows.compactMap { key, pieces in
            key & Self.tailKeyBit == 0 ? pieces.first { !have[$0] && nowReferences[$0] == nil } : nil
        }
    }

    /// Whether `piece` is in the tail window of an open file.
    func isInTailWindow(_ piece: Int) -> Bool {
        windows.contains { $0.key & Self.tailKeyBit != 0 && $0.value.contains(piece) }
    }

    /// Tail windows first (a few pieces a player needs next), then readahead by position.
    var windowsInOrder: [WindowOrder] {
        windows.sorted { a, b in
            let aTail = a.key & Self.tailKeyBit != 0, bTail = b.key & Self.tailKeyBit != 0
            return aTail != bTail ? aTail : a.value.lowerBound < b.value.lowerBound
        }.map { WindowOrder(pieces: $0.value, fromEnd: $0.key & Self.tailKeyBit != 0) }
    }
}
