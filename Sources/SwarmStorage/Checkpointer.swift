import SwarmMetainfo
import Synchronization

/// Keeps the resume record honest: the session reports each piece after `writePiece` returned, and
/// every few seconds calls `checkpoint()`, which syncs the store and only then saves a record
/// claiming the pieces reported *before* the sync. At the end of a run (`syncData: false`) it
/// saves without syncing: pieces not synced yet are claimed for this boot only (`BootIdentity`),
/// since the page cache holds them until the kernel goes down. So the record never claims a piece
/// whose data could be gone, whenever the process or the machine dies.
///
/// Eviction goes the other way round: the record first stops claiming the pieces (saved durably,
/// or — when the disk is too full to save — the record is deleted), then their holes are punched,
/// so a crash in between never leaves a claimed hole.
public final class Checkpointer: Sendable {
    private struct State {
        var verified: Bitfield
        var changed: Bool
        /// What the last saved record claimed: pieces known to be durable.
        var durable: Bitfield
        /// Pieces evicted since the running checkpoint took its snapshot: even if re-fetched
        /// meanwhile, their new bytes may have missed that checkpoint's sync.
        var evictedSinceSnapshot: Set<Int> = []
    }

    private let store: PieceStore
    private let infoHash: InfoHash
    private let directory: String
    private let state: Mutex<State>
    /// Serialises saving the record and punching holes (two saves at once would race on the
    /// record file; a hole must never be punched before the record stops claiming it).
    private let ioLock = Mutex(())

    /// Starts from the pieces a re-check found verified (nothing is saved until `checkpoint`).
    public init(store: PieceStore, infoHash: InfoHash, verified: Bitfield) {
        self.store = store
        self.infoHash = infoHash
        self.directory = store.directory
        self.state = Mutex(State(verified: verified, changed: true, durable: verified))
    }

    /// Records that `piece` was verified and its `writePiece` has returned.
    public func pieceWritten(_ piece: Int) {
        state.withLock { state in
            guard piece >= 0, piece < store.layout.pieceCount, !state.verified[piece] else { return }
            state.verified[piece] = true
            state.changed = true
        }
    }

    /// The pieces reported so far (durable or not yet).
    public var verifiedPieces: Bitfield {
        state.withLock { $0.verified }
    }

    /// Syncs the store, then atomically saves a record of the pieces reported before the sync.
    /// Does nothing when nothing changed since the last checkpoint unless `force` is set.
    /// On failure the next checkpoint tries again (the pieces stay reported).
    ///
    /// With `syncData: false` nothing is synced: the record claims what earlier checkpoints made
    /// durable, and everything reported since as unsynced, trusted only until the next reboot.
    /// A later synced checkpoint still runs (the pieces count as changed until then).
    public func checkpoint(force: Bool = false, syncData: Bool = true) throws(StorageError) {
        if syncData {
            try checkpointLocked(force: force)
        } else {
            try saveWithoutSync()
        }
    }

    /// Stops claiming `pieces` in the durable record, then punches their holes. The session must
    /// not evict a piece under an active read.
    public func evict(_ pieces: [Int]) throws(StorageError) {
        let valid = pieces.filter { $0 >= 0 && $0 < store.layout.pieceCount }
        if valid.isEmpty { return }
        try ioLock.withLock { _ throws(StorageError) in
            // No store sync here (it can take seconds with much dirty data, and eviction must keep
            // up with a fast stream): the record claims only what the last checkpoint made durable,
            // minus the victims. Pieces verified since then are simply re-checked after a crash.
            let claimed: Bitfield = state.withLock { state in
                for piece in valid {
                    state.verified[piece] = false
                    state.durable[piece] = false
                    state.evictedSinceSnapshot.insert(piece)
                }
                state.changed = true
                return state.durable
            }
            do throws(StorageError) {
                try ResumeRecord.capture(store: store, infoHash: infoHash, verified: claimed).save(directory: directory)
            } catch {
                // On a full disk the new record cannot be written, yet eviction is how space comes
                // back. Deleting the record is always safe (absent means re-check at start), so
                // drop it durably and punch anyway; only if even that fails, punch nothing.
                guard ResumeRecord.removeDurably(directory: directory) else { throw error }
            }
            for piece in valid {
                try store.punchHole(piece: piece)
            }
        }
    }

    private func saveWithoutSync() throws(StorageError) {
        try ioLock.withLock { _ throws(StorageError) in
            let (durable, unsynced): (Bitfield, Bitfield) = state.withLock { state in
                var unsynced = state.verified
                for piece in state.durable.setIndices { unsynced[piece] = false }
                return (state.durable, unsynced)
            }
            try ResumeRecord.capture(store: store, infoHash: infoHash, verified: durable, unsynced: unsynced)
                .save(directory: directory)
        }
    }

    private func checkpointLocked(force: Bool) throws(StorageError) {
        let snapshot: Bitfield? = state.withLock { state in
            guard state.changed || force else { return nil }
            state.changed = false
            state.evictedSinceSnapshot.removeAll()
            return state.verified
        }
        guard let snapshot else { return }
        do {
            // The sync runs outside `ioLock` so that evictions never wait for it.
            try store.sync()
            try ioLock.withLock { _ throws(StorageError) in
                // A piece evicted while we synced must not be claimed again.
                let claimed: Bitfield = state.withLock { state in
                    var claimed = snapshot
                    for piece in claimed.setIndices where !state.verified[piece] || state.evictedSinceSnapshot.contains(piece) {
                        claimed[piece] = false
                    }
                    return claimed
                }
                try ResumeRecord.capture(store: store, infoHash: infoHash, verified: claimed).save(directory: directory)
                state.withLock { $0.durable = claimed }
            }
        } catch {
            state.withLock { $0.changed = true }
            throw error
        }
    }
}
