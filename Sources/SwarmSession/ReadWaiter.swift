import NIOCore
import SwarmContent

/// A read that waits for pieces. Lives in the Foreman until every covering piece is verified,
/// the reader cancels, the deadline passes, or the session stops.
struct ReadWaiter {
    let reader: ReaderID
    let fileIndex: Int
    let offset: Int64
    let length: Int
    let pieces: Range<Int>
    var missing: Int
    let completion: @Sendable (Result<ReadableSpan, ContentReadError>) -> Void
    var timeout: Scheduled<Void>?
    /// When the read started waiting: how long readers wait is the figure that matters most.
    let since: NIODeadline
}

/// A waiting read handed to the job of the last piece it needs, which answers it from the pool
/// thread once the piece is stored.
struct PieceJobRead: Sendable {
    let id: UInt64
    let fileIndex: Int
    let offset: Int64
    let length: Int
    let pieces: Range<Int>
    let completion: @Sendable (Result<ReadableSpan, ContentReadError>) -> Void
}

/// One open file handle's reading pattern: its readahead window doubles while it reads on from
/// where it stopped and shrinks back to the start size on a seek.
struct ReaderState {
    /// Small after a seek: a random reader would waste more, and a streaming one doubles it on
    /// every read (1, 2, 4 … MiB) within its first few reads.
    static let initialWindow: Int64 = 1024 * 1024
    static let maximumWindow: Int64 = 64 * 1024 * 1024

    let fileIndex: Int
    var nextOffset: Int64 = 0
    var window: Int64 = initialWindow

    init(fileIndex: Int) {
        self.fileIndex = fileIndex
    }

    /// Records a read and tells whether it continued the previous one.
    mutating func note(offset: Int64, length: Int) {
        // The kernel splits and reorders large reads a little: count anything that starts within
        // the last window as sequential.
        let sequential = offset >= nextOffset - window && offset <= nextOffset + window
        if sequential {
            window = min(window * 2, Self.maximumWindow)
        } else {
            window = Self.initialWindow
        }
        let end = offset + Int64(length)
        nextOffset = sequential ? max(nextOffset, end) : end
    }
}
