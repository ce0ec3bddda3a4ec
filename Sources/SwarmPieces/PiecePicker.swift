import SwarmMetainfo

/// The piece picker: all piece and block state of one torrent as pure data, no I/O, no clock.
///
/// The session (the Foreman) owns exactly one and calls it from one thread. Order of preference:
/// pieces under a waiting read (*now*), the tails of media files a reader opened and readers'
/// readahead windows, in that order (*soon*), the first and last piece of each file, then the
/// rest sequentially (*background*, when enabled). Blocks of a *now*
/// piece that are already requested from a slower peer are requested again from a free one, and at
/// the very end (endgame) every outstanding block may be requested twice.
public struct PiecePicker {
    /// The standard block size (BEP 3 practice; peers reject larger requests).
    public static let blockSize = 16 * 1024

    public let pieceCount: Int
    public let pieceLength: Int
    private let lastPieceSize: Int

    /// Verified pieces.
    public private(set) var have: Bitfield
    /// How many connected peers have each piece (seeds are counted in `seedCount` instead).
    private var availability: [UInt16]
    private var seedCount = 0

    /// Pieces in progress (internal for `PiecePicker+Shares`).
    var partials: [Int: PartialPiece] = [:]
    /// Pieces whose every block arrived, now being hashed.
    private var hashing: Set<Int> = []

    /// *Now* pieces: how many waiting reads cover each, and when the oldest of them asked
    /// (`nextReadSequence` at the time), which orders who gets piece memory first.
    var nowReferences: [Int: (reads: Int, since: UInt64)] = [:]
    private var nextReadSequence: UInt64 = 0
    /// *Now* pieces that nobody had started when a read asked for them (a seek), until all their
    /// blocks have arrived.
    private var seekPieces: Set<Int> = []
    /// *Now* pieces whose outstanding blocks a peer that finished its share may duplicate (see
    /// `allowRacing`), until the piece is complete.
    var raceablePieces: Set<Int> = []
    /// Readahead and tail windows by reader (`PiecePicker+Windows`).
    var windows: [UInt64: Range<Int>] = [:]
    private let edgePieces: [Int]
    private let edgeSet: Set<Int>
    private var edgeCursor = 0
    /// Whether pieces outside reads and windows are fetched (`--download all`).
    public var backgroundEnabled: Bool
    /// Set while readers are active and latency matters more than background progress: no new
    /// requests for pieces outside reads and readahead windows.
    public var holdBackground = false
    private var backgroundCursor = 0
    /// Pieces may be started only while fewer than this many are in progress: it bounds the
    /// memory held by partial pieces. Waiting reads share it (500 readers of different 16 MiB
    /// pieces must not cost 8 GiB): their pieces queue, oldest read first, and are started before
    /// any readahead or background piece while a peer can send them.
    public var maxPiecesInProgress: Int
    /// Under a cache size limit while cold pieces are being evicted: bytes the cache may hold,
    /// counting pieces stored (`storedBytes`) and pieces in progress, past which no piece starts
    /// until the eviction has punched its holes. Without it, a reader faster than eviction (its
    /// record save, then the hole punching, queue on the disk pool) overshot the limit by what
    /// arrived meanwhile. `nil`: no ceiling.
    public var storedBytesCeiling: Int64?
    /// Bytes on disk: verified pieces plus those whose holes are being punched.
    public var storedBytes: Int64 = 0
    /// Connections up but not through their handshakes yet: peers that will most likely ask for
    /// a share of a *now* piece within a round trip (see `nowShare`).
    public var peersJoining = 0

    public init(layout: FileLayout, have: Bitfield, backgroundEnabled: Bool, maxPiecesInProgress: Int) {
        pieceCount = layout.pieceCount
        pieceLength = layout.pieceLength
        lastPieceSize = pieceCount > 0 ? layout.pieceSize(pieceCount - 1) : 0
        self.have = have
        availability = Array(repeating: 0, count: pieceCount)
        self.backgroundEnabled = backgroundEnabled
        self.maxPiecesInProgress = max(1, maxPiecesInProgress)
        var edges = Set<Int>()
        for file in layout.files where !file.isPadding && file.length > 0 {
            let range = layout.pieces(file: file.index, offset: 0, length: file.length)
            if let first = range.first { edges.insert(first) }
            if let last = range.last { edges.insert(last) }
        }
        edgePieces = edges.sorted()
        edgeSet = edges
    }

    // MARK: - Geometry

    public func pieceSize(_ piece: Int) -> Int { piece == pieceCount - 1 ? lastPieceSize : pieceLength }

    public func blockCount(ofPiece piece: Int) -> Int {
        (pieceSize(piece) + Self.blockSize - 1) / Self.blockSize
    }

    private func blockLength(piece: Int, block: Int) -> Int {
        min(Self.blockSize, pieceSize(piece) - block * Self.blockSize)
    }

    // MARK: - State queries

    public var isComplete: Bool { have.isComplete }
    /// Pieces holding memory: being assembled, or complete and waiting for their hash check.
    public var piecesInProgress: Int { partials.count + hashing.count }

    /// Whether a piece is being assembled or hashed.
    public func isInProgress(_ piece: Int) -> Bool { partials[piece] != nil || hashing.contains(piece) }

    /// Whether a piece is verified.
    public func hasPiece(_ piece: Int) -> Bool { have[piece] }

    /// The highest priority that currently applies to `piece`.
    public func priority(of piece: Int) -> PiecePriority {
        if have[piece] { return .none }
        if nowReferences[piece] != nil { return .now }
        for window in windows.values where window.contains(piece) { return .soon }
        // Without background fill (`--download on-demand`) only what is read and read ahead is
        // wanted: fetching the first and last piece of every file would download most of a
        // torrent of many small files.
        guard backgroundEnabled else { return .none }
        return edgeSet.contains(piece) ? .fileEdge : .background
    }

    /// Whether a waiting read or a reader's readahead window covers `piece`, verified or not
    /// (what a cache size limit must not evict).
    public func isReadOrReadAhead(_ piece: Int) -> Bool {
        nowReferences[piece] != nil || windows.values.contains { $0.contains(piece) }
    }

    /// Whether a peer holding `peerHas` has anything we still need (our interest in it).
    public func wantsAnything(from peerHas: Bitfield) -> Bool {
        var piece = 0
        while piece < pieceCount {
            if peerHas[piece] && !have[piece] { return true }
            piece += 1
        }
        return false
    }

    /// Pieces under waiting reads that are not verified yet.
    public var piecesWaitingForReaders: Int { nowReferences.count }

    /// Whether a read waits for a piece that some connected peer has (so it can be fetched now).
    public var isReadWaitingOnSwarm: Bool {
        nowReferences.keys.contains { !have[$0] && (seedCount > 0 || availability[$0] > 0) }
    }

    // MARK: - Availability

    public mutating func peerHasPiece(_ piece: Int) {
        guard piece >= 0, piece < pieceCount else { return }
        availability[piece] &+= 1
    }

    public mutating func peerAdded(bitfield: Bitfield) {
        for piece in 0..<pieceCount where bitfield[piece] { availability[piece] &+= 1 }
    }

    public mutating func peerRemoved(bitfield: Bitfield) {
        for piece in 0..<pieceCount where bitfield[piece] && availability[piece] > 0 {
            availability[piece] -= 1
        }
    }

    public mutating func seedAdded() { seedCount += 1 }
    public mutating func seedRemoved() { seedCount = max(0, seedCount - 1) }

    /// How many connected peers have `piece`.
    public func availability(of piece: Int) -> Int { Int(availability[piece]) + seedCount }

    // MARK: - Priorities

    /// A read is waiting for `pieces`: they jump to the front.
    public mutating func addWaitingRead(pieces: Range<Int>) {
        nextReadSequence &+= 1
        for piece in pieces where !have[piece] {
            if let entry = nowReferences[piece] {
                nowReferences[piece] = (entry.reads + 1, entry.since)
            } else {
                nowReferences[piece] = (1, nextReadSequence)
            }
        }
    }

    /// A read stopped waiting for `pieces` (it was served, cancelled or timed out).
    public mutating func removeWaitingRead(pieces: Range<Int>) {
        for piece in pieces {
            guard let entry = nowReferences[piece] else { continue }
            nowReferences[piece] = entry.reads > 1 ? (entry.reads - 1, entry.since) : nil
            if entry.reads == 1 {
                seekPieces.remove(piece)
                raceablePieces.remove(piece)
            }
        }
    }

    // MARK: - Picking

    /// Chooses up to `maxBlocks` blocks to request from a peer that has `peerHas`.
    ///
    /// New pieces are started in priority order; a peer finishes the pieces it started before
    /// others are opened, so each piece tends to come from one peer.
    ///
    /// `waitedBlocksAlone`: the peer has nothing requested, or only blocks of pieces reads wait
    /// for and none of them has arrived yet. If it gets (or still owes) such blocks, the batch
    /// holds no readahead: peers do not serve a queue in order (libtorrent reads the blocks of
    /// two pieces in parallel and sends them interleaved), so readahead queued beside them
    /// delays the waited piece (at 40 ms and 4 MiB/s a peer, the first piece after a mount came
    /// 60 ms later, a cold seek 45 ms). The peer's next fill, when its first block lands,
    /// queues the readahead behind the waited blocks it still owes. A media file's tail still
    /// goes out beside them: the player reads it right after them (without it, ffmpeg's first
    /// frame of a moov-at-end MP4 came 40 ms later).
    public mutating func pickBlocks(for peer: PeerKey, peerHas: Bitfield, maxBlocks: Int,
                                    waitedBlocksAlone: Bool = false) -> [BlockSpec] {
        guard maxBlocks > 0, !have.isComplete else { return [] }
        var picked: [BlockSpec] = []
        picked.reserveCapacity(maxBlocks)

        // While a read waits for a piece some peer can send, only reads and readahead get
        // requests: every background block asked for now would queue ahead of the reader's at
        // the peers and in the sockets, and compete with it for the CPU.
        let readsFirst = holdBackground || isReadWaitingOnSwarm
        // 1. Unrequested blocks of pieces under waiting reads, then of other pieces in progress.
        let inProgress = partials.keys.sorted { lhs, rhs in
            let lp = priority(of: lhs), rp = priority(of: rhs)
            return lp != rp ? lp > rp : lhs < rhs
        }
        // With the budget full, finishing the pieces under way is the only way to free memory
        // for the reads that queue for it: they go on even if reads come first.
        let budgetFull = piecesInProgress >= maxPiecesInProgress
        let owesWaitedBlocks = waitedBlocksAlone && owesWaitedBlocks(peer)
        var waitedAndTailsOnly = false
        let heads = readaheadHeads
        for piece in inProgress where peerHas[piece] {
            if readsFirst && !budgetFull && priority(of: piece) < .soon { break }
            if waitedBlocksAlone && nowReferences[piece] == nil && (owesWaitedBlocks || !picked.isEmpty) {
                waitedAndTailsOnly = true
                guard isInTailWindow(piece) else { continue }
            }
            let limit = nowReferences[piece] != nil || heads.contains(piece)
                ? shareLimit(of: piece, for: peer, picked: picked.count, max: maxBlocks)
                : maxBlocks
            takeFreeBlocks(of: piece, for: peer, into: &picked, max: limit)
            if picked.count >= maxBlocks { return picked }
        }

        // 2. New pieces, highest priority first; pieces of waiting reads in the order the reads
        //    came, within the memory budget like every other piece.
        var readPiecesQueued = false
        for piece in nowReferencesOldestFirst() where isStartable(piece) {
            guard peerHas[piece], piecesInProgress < maxPiecesInProgress else {
                // A piece some peer can send waits for memory: no readahead or background piece
                // may take the next free slot before it.
                if availability(of: piece) > 0 { readPiecesQueued = true }
                continue
            }
            seekPieces.insert(piece)
            startIfPossible(piece, for: peer, into: &picked, max: shareLimit(of: piece, for: peer, picked: picked.count, max: maxBlocks))
            if picked.count >= maxBlocks { return picked }
        }
        if waitedBlocksAlone && (owesWaitedBlocks || picked.contains(where: { nowReferences[$0.piece] != nil })) {
            waitedAndTailsOnly = true
        }
        // After a seek, readahead waits for the sought piece while that is quick: peers read (and
        // in seed mode hash) a whole piece before they send from it, and the next piece asked for
        // at the same time would make every one of them read two while the reader waits for the
        // first. Once the read has waited `allowRacing`'s delay the link is a long one, where
        // waiting would cost the readahead a whole round trip after the sought piece: it goes
        // out then, behind the sought blocks in every peer's queue.
        for window in (waitedAndTailsOnly ? tailWindows : windowsInOrder) where !isSeekArriving && !readPiecesQueued {
            for offset in 0..<window.pieces.count {
                let piece = window.piece(offset)
                guard peerHas[piece] else { continue }
                guard piecesInProgress < maxPiecesInProgress else { break }
                let limit = heads.contains(piece)
                    ? shareLimit(of: piece, for: peer, picked: picked.count, max: maxBlocks)
                    : maxBlocks
                startIfPossible(piece, for: peer, into: &picked, max: limit)
                if picked.count >= maxBlocks { return picked }
            }
        }
        if waitedAndTailsOnly { return picked }
        if !readsFirst && !readPiecesQueued && backgroundEnabled {
            pickEdgePieces(for: peer, peerHas: peerHas, into: &picked, max: maxBlocks)
            if picked.count >= maxBlocks { return picked }
            pickBackground(for: peer, peerHas: peerHas, into: &picked, max: maxBlocks)
            if picked.count >= maxBlocks { return picked }
        }

        // 3. Race slow peers: blocks of *now* pieces, or of anything once nothing is left to start.
        //    A *now* piece is raced only once all its blocks are out (before that, the peers
        //    that have it still come for their shares) and by a peer that delivered its own.
        let endgame = picked.isEmpty && !hasUnstartedWork(peerHas: peerHas)
        for piece in inProgress where peerHas[piece] && (endgame || isRaceable(piece, by: peer)) {
            takeDuplicateBlocks(of: piece, for: peer, into: &picked, max: maxBlocks)
            if picked.count >= maxBlocks { break }
        }
        return picked
    }

    /// Whether blocks of a sought piece are on their way (requested and not yet here), and its
    /// read has not waited long enough to let racing (and readahead) start.
    private var isSeekArriving: Bool {
        seekPieces.contains { piece in
            guard !raceablePieces.contains(piece), let partial = partials[piece] else { return false }
            return partial.blockCount - partial.receivedCount - partial.unrequested > 0
        }
    }

    private mutating func pickEdgePieces(for peer: PeerKey, peerHas: Bitfield, into picked: inout [BlockSpec], max: Int) {
        while edgeCursor < edgePieces.count, have[edgePieces[edgeCursor]] { edgeCursor += 1 }
        var index = edgeCursor
        while index < edgePieces.count, piecesInProgress < maxPiecesInProgress, picked.count < max {
            let piece = edgePieces[index]
            if peerHas[piece] { startIfPossible(piece, for: peer, into: &picked, max: max) }
            index += 1
        }
    }

    /// How many startable pieces ahead of the background cursor compete on rarity.
    static let rarityLookahead = 8

    /// The rest in order, a few pieces at a time: within each group the rarest piece starts first,
    /// so the cache fills sequentially at that grain while pieces few peers hold are not left
    /// until those peers are gone.
    private mutating func pickBackground(for peer: PeerKey, peerHas: Bitfield, into picked: inout [BlockSpec], max: Int) {
        while backgroundCursor < pieceCount, have[backgroundCursor] { backgroundCursor += 1 }
        var piece = backgroundCursor
        var group: [Int] = []
        group.reserveCapacity(Self.rarityLookahead)
        while piece < pieceCount, piecesInProgress < maxPiecesInProgress, picked.count < max {
            group.removeAll(keepingCapacity: true)
            while piece < pieceCount, group.count < Self.rarityLookahead {
                if peerHas[piece] && isStartable(piece) { group.append(piece) }
                piece += 1
            }
            group.sort { (availability[$0], $0) < (availability[$1], $1) }
            for candidate in group {
                guard piecesInProgress < maxPiecesInProgress, picked.count < max else { return }
                startIfPossible(candidate, for: peer, into: &picked, max: max)
            }
        }
    }

    /// Whether a wanted piece exists that this peer has and nobody has started.
    private func hasUnstartedWork(peerHas: Bitfield) -> Bool {
        for piece in nowReferences.keys where peerHas[piece] && isStartable(piece) { return true }
        for window in windows.values {
            for piece in window where peerHas[piece] && isStartable(piece) { return true }
        }
        guard backgroundEnabled else { return false }
        var piece = backgroundCursor
        while piece < pieceCount {
            if peerHas[piece] && isStartable(piece) { return true }
            piece += 1
        }
        return false
    }

    private func isStartable(_ piece: Int) -> Bool {
        !have[piece] && partials[piece] == nil && !hashing.contains(piece)
    }

    /// *Now* pieces by the age of the oldest read waiting for each.
    private func nowReferencesOldestFirst() -> [Int] {
        nowReferences.sorted { $0.value.since != $1.value.since ? $0.value.since < $1.value.since : $0.key < $1.key }
            .map(\.key)
    }

    private mutating func startIfPossible(_ piece: Int, for peer: PeerKey, into picked: inout [BlockSpec], max: Int) {
        guard isStartable(piece), piecesInProgress < maxPiecesInProgress, fitsUnderCeiling else { return }
        partials[piece] = PartialPiece(blockCount: blockCount(ofPiece: piece))
        takeFreeBlocks(of: piece, for: peer, into: &picked, max: max)
    }

    /// Whether one more piece fits under `storedBytesCeiling` with those stored and in progress.
    private var fitsUnderCeiling: Bool {
        guard let ceiling = storedBytesCeiling else { return true }
        let (inProgress, overflow) = Int64(piecesInProgress + 1).multipliedReportingOverflow(by: Int64(pieceLength))
        return !overflow && storedBytes <= ceiling - inProgress
    }

    private mutating func takeFreeBlocks(of piece: Int, for peer: PeerKey, into picked: inout [BlockSpec], max: Int) {
        guard let partial = partials[piece], partial.unrequested > 0 else { return }
        var block = partial.firstFree
        while block < partial.blockCount, picked.count < max {
            if !partial.received[block], partial.first[block] == PartialPiece.nobody,
               partial.second[block] == PartialPiece.nobody {
                partial.first[block] = peer
                partial.unrequested -= 1
                picked.append(BlockSpec(piece: piece, begin: block * Self.blockSize,
                                        length: blockLength(piece: piece, block: block)))
            }
            block += 1
        }
        partial.advanceFirstFree()
    }

    /// Last block first: the holders send their blocks in the order they asked for them, so the
    /// blocks at the end of the piece arrive last, and a racer asking for those (and working
    /// backwards) meets each holder half-way instead of duplicating what arrives next anyway. On
    /// four peers 40 ms away (4 MiB/s each), the first 1 MiB piece came 215 ms after its requests
    /// when racers copied the front (two peers had split it, the other two duplicated them),
    /// 190 ms from the back.
    private mutating func takeDuplicateBlocks(of piece: Int, for peer: PeerKey, into picked: inout [BlockSpec], max: Int) {
        guard let partial = partials[piece] else { return }
        for block in (0..<partial.blockCount).reversed() where picked.count < max {
            guard !partial.received[block], partial.first[block] != peer, partial.second[block] != peer else { continue }
            if partial.first[block] == PartialPiece.nobody {
                partial.first[block] = peer
                partial.unrequested -= 1
            } else if partial.second[block] == PartialPiece.nobody {
                partial.second[block] = peer
            } else {
                continue
            }
            picked.append(BlockSpec(piece: piece, begin: block * Self.blockSize,
                                    length: blockLength(piece: piece, block: block)))
        }
    }

    // MARK: - Events

    /// A block arrived from `peer`.
    public mutating func blockReceived(from peer: PeerKey, piece: Int, begin: Int) -> BlockReceipt {
        guard piece >= 0, piece < pieceCount, begin >= 0, begin % Self.blockSize == 0,
              let partial = partials[piece] else { return .unwanted }
        let block = begin / Self.blockSize
        guard block < partial.blockCount, !partial.received[block] else { return .unwanted }
        var other: PeerKey?
        if partial.first[block] != PartialPiece.nobody, partial.first[block] != peer { other = partial.first[block] }
        if partial.second[block] != PartialPiece.nobody, partial.second[block] != peer { other = partial.second[block] }
        if partial.first[block] == PartialPiece.nobody && partial.second[block] == PartialPiece.nobody {
            partial.unrequested -= 1   // unsolicited but useful (e.g. after a timeout released it)
        }
        partial.received[block] = true
        partial.receivedCount += 1
        partial.first[block] = PartialPiece.nobody
        partial.second[block] = PartialPiece.nobody
        let complete = partial.receivedCount == partial.blockCount
        if complete {
            partials[piece] = nil
            hashing.insert(piece)
            seekPieces.remove(piece)
            raceablePieces.remove(piece)
        }
        return .accepted(pieceComplete: complete, alsoRequestedFrom: other)
    }

    /// A request to `peer` will not be answered (rejected, timed out, choked, disconnected).
    public mutating func requestReleased(by peer: PeerKey, piece: Int, begin: Int) {
        guard let partial = partials[piece] else { return }
        let block = begin / Self.blockSize
        guard block >= 0, block < partial.blockCount, !partial.received[block] else { return }
        if partial.second[block] == peer {
            partial.second[block] = PartialPiece.nobody
        } else if partial.first[block] == peer {
            partial.first[block] = partial.second[block]
            partial.second[block] = PartialPiece.nobody
            if partial.first[block] == PartialPiece.nobody {
                partial.unrequested += 1
                partial.firstFree = min(partial.firstFree, block)
            }
        }
    }

    /// The piece's hash matched: it is ours.
    public mutating func pieceVerified(_ piece: Int) {
        hashing.remove(piece)
        partials[piece] = nil
        have[piece] = true
        nowReferences[piece] = nil
        seekPieces.remove(piece)
    }

    /// The piece's hash did not match: forget its blocks so it is fetched again.
    public mutating func pieceFailed(_ piece: Int) {
        hashing.remove(piece)
        partials[piece] = nil
        seekPieces.remove(piece)
        raceablePieces.remove(piece)
    }

    /// Lets peers that delivered their share of these *now* pieces duplicate the blocks others
    /// still owe. The session calls it once a read has waited a little: racing at once only
    /// doubles the bytes in flight when every peer is about as fast (on a LAN each copy then
    /// arrives after the original and the read waits for both), while a slow peer holding a
    /// block of the piece is still overtaken a few milliseconds later.
    public mutating func allowRacing(of pieces: some Sequence<Int>) {
        for piece in pieces where nowReferences[piece] != nil && !have[piece] && !hashing.contains(piece) {
            raceablePieces.insert(piece)
        }
    }

    /// A verified piece was evicted from the cache (a size limit): it is wanted again when read.
    public mutating func pieceEvicted(_ piece: Int) {
        have[piece] = false
        backgroundCursor = min(backgroundCursor, piece)
    }
}
