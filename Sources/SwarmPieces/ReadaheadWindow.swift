import SwarmMetainfo

/// One open file handle's readahead: the window doubles while the reader reads on from where it
/// stopped and shrinks back to the start size on a seek.
///
/// Invariant: `initialLength <= length <= maximumLength`.
public struct ReadaheadWindow: Sendable, Equatable {
    /// Small after a seek: a random reader would waste more, and a streaming one doubles it on
    /// every read (1, 2, 4 … MiB) within its first few reads.
    public static let initialLength: Int64 = 1024 * 1024
    public static let maximumLength: Int64 = 64 * 1024 * 1024

    /// Where the reader is expected to read next.
    public private(set) var nextOffset: Int64 = 0
    /// How far ahead of the reader pieces are fetched.
    public private(set) var length: Int64 = initialLength

    public init() {}

    /// Records a read: a sequential one widens the window, a seek resets it.
    public mutating func note(offset: Int64, length readLength: Int) {
        // The kernel splits and reorders large reads a little: count anything that starts within
        // the last window as sequential. Saturating: offsets come from outside.
        let sequential = offset >= Self.saturating(nextOffset.subtractingReportingOverflow(length), nextOffset < 0)
            && offset <= Self.saturating(nextOffset.addingReportingOverflow(length), nextOffset < 0)
        if sequential {
            length = min(length * 2, Self.maximumLength)
        } else {
            length = Self.initialLength
        }
        let readEnd = Self.saturating(offset.addingReportingOverflow(Int64(readLength)), offset < 0)
        nextOffset = sequential ? max(nextOffset, readEnd) : readEnd
    }

    /// `result`, or the bound it overflowed past (`.min` when it came from a negative operand).
    private static func saturating(_ result: (partialValue: Int64, overflow: Bool), _ negative: Bool) -> Int64 {
        result.overflow ? (negative ? .min : .max) : result.partialValue
    }

    /// The pieces to fetch ahead of a read of file `fileIndex` that ended at `end`: the window,
    /// at most `cap` bytes and not past the end of the file; nil when there is nothing ahead.
    public func pieces(after end: Int64, file fileIndex: Int, in layout: FileLayout, cap: Int64) -> Range<Int>? {
        guard layout.files.indices.contains(fileIndex) else { return nil }
        let windowLength = min(length, cap, layout.files[fileIndex].length - end)
        return windowLength > 0 ? layout.pieces(file: fileIndex, offset: end, length: windowLength) : nil
    }
}
