import NIOCore
import SwarmContent
import SwarmPieces

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

/// One open file handle: the file it reads (pinned in the store while open) and its readahead.
struct ReaderState {
    let fileIndex: Int
    var readahead = ReadaheadWindow()

    init(fileIndex: Int) {
        self.fileIndex = fileIndex
    }
}
