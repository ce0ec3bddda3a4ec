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

    /// The tail windows alone.
    var tailWindows: [Range<Int>] {
        windows.filter { $0.key & Self.tailKeyBit != 0 }.map(\.value)
    }

    /// Whether `piece` is in the tail window of an open file.
    func isInTailWindow(_ piece: Int) -> Bool {
        windows.contains { $0.key & Self.tailKeyBit != 0 && $0.value.contains(piece) }
    }

    /// Tail windows first (a few pieces a player needs next), then readahead by position.
    var windowsInOrder: [Range<Int>] {
        windows.sorted { a, b in
            let aTail = a.key & Self.tailKeyBit != 0, bTail = b.key & Self.tailKeyBit != 0
            return aTail != bTail ? aTail : a.value.lowerBound < b.value.lowerBound
        }.map(\.value)
    }
}
