#if canImport(Glibc)
import Glibc
#endif
import SwarmContent
import Synchronization

/// A content source that can be closed under running calls: after `close()` returns, no call of
/// the library reaches the source again (a removed torrent's session is shut down right after,
/// and its event loop must not be handed work then); calls made afterwards fail at once as
/// if the source were shut down, so a reader of a removed torrent gets EIO, never a hang.
///
/// Invariant: `inFlight` counts calls between a successful `enter()` and `leave()`; once
/// `closed`, `enter()` fails, so `inFlight` only falls.
final class SourceGate: Sendable {
    let source: any TorrentContentSource
    private let state = Mutex<(closed: Bool, inFlight: Int)>((false, 0))

    init(_ source: any TorrentContentSource) {
        self.source = source
    }

    private func enter() -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            state.inFlight += 1
            return true
        }
    }

    private func leave() {
        state.withLock { $0.inFlight -= 1 }
    }

    /// A reader of `fileIndex`, or nil once closed.
    func openReader(fileIndex: Int) -> ReaderID? {
        guard enter() else { return nil }
        defer { leave() }
        return source.openReader(fileIndex: fileIndex)
    }

    func closeReader(_ reader: ReaderID) {
        guard enter() else { return }
        defer { leave() }
        source.closeReader(reader)
    }

    /// As `TorrentContentSource.read`; fails with `.shutdown` once closed. Cancelling the ticket
    /// after the gate closed does nothing (the source failed the read when it shut down).
    func read(_ reader: ReaderID, fileIndex: Int, offset: Int64, length: Int,
              completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void) -> ReadTicket {
        guard enter() else {
            completion(.failure(.shutdown))
            return .completed
        }
        defer { leave() }
        let ticket = source.read(reader, fileIndex: fileIndex, offset: offset, length: length, completion: completion)
        if ticket === ReadTicket.completed { return ticket }
        return ReadTicket { [self] in
            guard enter() else { return }
            defer { leave() }
            ticket.cancel()
        }
    }

    /// The source's status, or nil once closed.
    func status() -> SessionStatus? {
        guard enter() else { return nil }
        defer { leave() }
        return source.statusSnapshot()
    }

    /// Refuses new calls and waits until the running ones returned. Those never block (reads
    /// answer later through their completion), so the wait is short.
    func close() {
        state.withLock { $0.closed = true }
        while state.withLock({ $0.inFlight }) > 0 { usleep(100) }
    }
}

/// One torrent's folder in a library: its tree, shifted into the library's inode space so that
/// the folder is inode `base` and the tree's inode `n` is `base + n - 1`. Ranges are handed
/// out once and never reused, so an inode the kernel still holds never names another file.
final class LibraryVolume: Sendable {
    let base: UInt64
    let infoHash: String
    /// The torrent's own name (the folder may be named `name (2)`).
    let torrentName: String
    let tree: TorrentTree
    /// Serves the files; nil for an empty placeholder folder.
    let gate: SourceGate?
    /// "running", or why the folder is empty (e.g. "magnet").
    let state: String
    let reason: String?
    let ownership: FSOwnership

    init(base: UInt64, infoHash: String, torrentName: String, tree: TorrentTree, gate: SourceGate?,
         state: String, reason: String?, ownership: FSOwnership) {
        self.base = base
        self.infoHash = infoHash
        self.torrentName = torrentName
        self.tree = tree
        self.gate = gate
        self.state = state
        self.reason = reason
        self.ownership = ownership
    }

    /// The last inode of the volume's range.
    var lastInode: UInt64 { base + UInt64(tree.table.count) - 1 }

    func contains(_ inode: UInt64) -> Bool { inode >= base && inode <= lastInode }

    /// The tree's own number for library inode `inode` (which `contains`).
    func local(_ inode: UInt64) -> UInt64 { inode - base + 1 }

    /// The library inode of the tree's inode `local`.
    func global(_ local: UInt64) -> UInt64 { base + local - 1 }
}

/// A file handle of a library: the volume it reads and the session reader it owns.
struct LibraryOpenFile: Sendable {
    let volume: LibraryVolume
    let fileIndex: Int
    let length: Int64
    let reader: ReaderID
}
