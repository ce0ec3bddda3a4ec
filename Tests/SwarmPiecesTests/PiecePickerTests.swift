import SwarmMetainfo
import SwarmPieces
import Testing

/// Ten 64 KiB pieces (4 blocks each) in one file, unless a test says otherwise.
private func makePicker(pieces: Int = 10, pieceLength: Int = 64 * 1024, lastPieceBytes: Int? = nil,
                        background: Bool = true, maxInProgress: Int = 100) -> PiecePicker {
    let total = Int64(pieceLength * (pieces - 1) + (lastPieceBytes ?? pieceLength))
    let layout = FileLayout(pieceLength: pieceLength, files: [(path: ["f"], length: total, isPadding: false)])
    return PiecePicker(layout: layout, have: Bitfield(count: pieces), backgroundEnabled: background,
                       maxPiecesInProgress: maxInProgress)
}

private func full(_ count: Int) -> Bitfield { Bitfield.full(count: count) }

@Test func backgroundIsSequentialAfterFileEdges() {
    var picker = makePicker()
    let blocks = picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 12)
    // First and last piece of the file come first, then the rest in order.
    #expect(blocks.map(\.piece) == [0, 0, 0, 0, 9, 9, 9, 9, 1, 1, 1, 1])
    #expect(blocks.first == BlockSpec(piece: 0, begin: 0, length: 16384))
}

@Test func backgroundBreaksTiesByRarityWithinAFewPieces() {
    var picker = makePicker()
    var allButTwo = full(10)
    allButTwo[2] = false
    picker.peerAdded(bitfield: full(10))
    picker.peerAdded(bitfield: allButTwo)
    // Piece 2 is on one peer, every other on two: after the file's edges it comes first, and the
    // rest stays in order.
    let blocks = picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 16)
    #expect(blocks.map(\.piece) == [0, 0, 0, 0, 9, 9, 9, 9, 2, 2, 2, 2, 1, 1, 1, 1])
}

@Test func waitingReadJumpsAhead() {
    var picker = makePicker()
    picker.addWaitingRead(pieces: 6..<7)
    let blocks = picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 4)
    #expect(blocks.allSatisfy { $0.piece == 6 })
    #expect(picker.priority(of: 6) == .now)
    picker.removeWaitingRead(pieces: 6..<7)
    #expect(picker.priority(of: 6) == .background)
}

@Test func readaheadWindowBeatsBackgroundAndEdges() {
    var picker = makePicker()
    picker.setWindow(reader: 7, pieces: 4..<6)
    let blocks = picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 8)
    #expect(blocks.map(\.piece) == [4, 4, 4, 4, 5, 5, 5, 5])
    picker.setWindow(reader: 7, pieces: nil)
    #expect(picker.priority(of: 7) == .background)
}

@Test func onDemandFetchesOnlyWhatIsRead() {
    var picker = makePicker(background: false)
    // Not even the files' first and last pieces: nothing is read yet.
    #expect(picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 100).isEmpty)
    #expect(picker.priority(of: 0) == .none)
    var onlyMiddle = Bitfield(count: 10)
    onlyMiddle[5] = true
    #expect(picker.pickBlocks(for: 2, peerHas: onlyMiddle, maxBlocks: 100).isEmpty)
    picker.addWaitingRead(pieces: 5..<6)
    #expect(picker.pickBlocks(for: 2, peerHas: onlyMiddle, maxBlocks: 100).count == 4)
}

@Test func shortLastPieceHasShortLastBlock() {
    var picker = makePicker(pieces: 2, lastPieceBytes: 16384 + 1)
    picker.addWaitingRead(pieces: 1..<2)
    let blocks = picker.pickBlocks(for: 1, peerHas: full(2), maxBlocks: 10)
    #expect(blocks.filter { $0.piece == 1 } == [BlockSpec(piece: 1, begin: 0, length: 16384),
                                                  BlockSpec(piece: 1, begin: 16384, length: 1)])
}

@Test func onlyPiecesThePeerHasArePicked() {
    var picker = makePicker()
    var has = Bitfield(count: 10)
    has[3] = true
    let blocks = picker.pickBlocks(for: 1, peerHas: has, maxBlocks: 100)
    #expect(Set(blocks.map(\.piece)) == [3])
}

@Test func completedPieceGoesToHashingThenVerified() {
    var picker = makePicker(pieces: 1)
    let blocks = picker.pickBlocks(for: 1, peerHas: full(1), maxBlocks: 10)
    #expect(blocks.count == 4)
    for (index, block) in blocks.enumerated() {
        let receipt = picker.blockReceived(from: 1, piece: block.piece, begin: block.begin)
        #expect(receipt == .accepted(pieceComplete: index == 3, alsoRequestedFrom: nil))
    }
    // While hashing, nothing more is requested for it.
    #expect(picker.pickBlocks(for: 2, peerHas: full(1), maxBlocks: 10).isEmpty)
    picker.pieceVerified(0)
    #expect(picker.isComplete)
    #expect(picker.blockReceived(from: 1, piece: 0, begin: 0) == .unwanted)
}

@Test func failedPieceIsFetchedAgain() {
    var picker = makePicker(pieces: 1)
    for block in picker.pickBlocks(for: 1, peerHas: full(1), maxBlocks: 10) {
        _ = picker.blockReceived(from: 1, piece: block.piece, begin: block.begin)
    }
    picker.pieceFailed(0)
    #expect(picker.pickBlocks(for: 2, peerHas: full(1), maxBlocks: 10).count == 4)
}

@Test func releasedRequestsGoToOtherPeers() {
    var picker = makePicker(pieces: 1)
    let first = picker.pickBlocks(for: 1, peerHas: full(1), maxBlocks: 2)
    #expect(first.count == 2)
    for block in first { picker.requestReleased(by: 1, piece: block.piece, begin: block.begin) }
    let second = picker.pickBlocks(for: 2, peerHas: full(1), maxBlocks: 10)
    #expect(second.count == 4)
    #expect(second.map(\.begin) == [0, 16384, 32768, 49152])
}

/// A request we cancelled (released) whose block lands anyway is used when the piece still
/// needs it: not requested again, and the peer it was handed to meanwhile is named for a cancel.
@Test func aBlockArrivingAfterItsReleaseIsUsed() {
    var picker = makePicker(pieces: 1)
    let first = picker.pickBlocks(for: 1, peerHas: full(1), maxBlocks: 4)
    for block in first { picker.requestReleased(by: 1, piece: block.piece, begin: block.begin) }
    // Block 0 lands from peer 1 before anyone else asked for it.
    #expect(picker.blockReceived(from: 1, piece: 0, begin: 0) == .accepted(pieceComplete: false, alsoRequestedFrom: nil))
    // Peer 2 gets only the three still missing; block 1 then lands late from peer 1 too.
    let second = picker.pickBlocks(for: 2, peerHas: full(1), maxBlocks: 10)
    #expect(second.map(\.begin) == [16384, 32768, 49152])
    #expect(picker.blockReceived(from: 1, piece: 0, begin: 16384) == .accepted(pieceComplete: false, alsoRequestedFrom: 2))
    #expect(picker.blockReceived(from: 2, piece: 0, begin: 16384) == .unwanted)
    #expect(picker.blockReceived(from: 2, piece: 0, begin: 32768) == .accepted(pieceComplete: false, alsoRequestedFrom: nil))
    #expect(picker.blockReceived(from: 2, piece: 0, begin: 49152) == .accepted(pieceComplete: true, alsoRequestedFrom: nil))
}

@Test func slowPeerHoldingANowBlockIsRaced() {
    var picker = makePicker(pieces: 4)
    picker.addWaitingRead(pieces: 2..<3)
    let slow = picker.pickBlocks(for: 1, peerHas: full(4), maxBlocks: 4)
    #expect(slow.allSatisfy { $0.piece == 2 })
    // Until the session allows racing (a read has waited a while), nobody duplicates them.
    #expect(picker.pickBlocks(for: 2, peerHas: full(4), maxBlocks: 100).allSatisfy { $0.piece != 2 })
    picker.allowRacing(of: 2..<3)
    // Then a peer with other work gets duplicates of the waiting piece's blocks.
    let fast = picker.pickBlocks(for: 2, peerHas: full(4), maxBlocks: 100)
    #expect(fast.filter { $0.piece == 2 }.count == 4)
    // Last block first: the slow peer sends in the order it asked, so the end of the piece is
    // what it delivers last, and the racer meets it half-way.
    #expect(fast.filter { $0.piece == 2 }.map(\.begin) == [49152, 32768, 16384, 0])
    // The fast copy arrives first; the slow peer must be cancelled.
    #expect(picker.blockReceived(from: 2, piece: 2, begin: 0) == .accepted(pieceComplete: false, alsoRequestedFrom: 1))
    #expect(picker.blockReceived(from: 1, piece: 2, begin: 0) == .unwanted)
}

@Test func endgameDuplicatesOutstandingBlocks() {
    var picker = makePicker(pieces: 1)
    _ = picker.pickBlocks(for: 1, peerHas: full(1), maxBlocks: 10)
    let duplicates = picker.pickBlocks(for: 2, peerHas: full(1), maxBlocks: 10)
    #expect(duplicates.count == 4)
    // Never a third copy, and never to the same peer twice.
    #expect(picker.pickBlocks(for: 3, peerHas: full(1), maxBlocks: 10).isEmpty)
    #expect(picker.pickBlocks(for: 1, peerHas: full(1), maxBlocks: 10).isEmpty)
}

@Test func piecesInProgressAreBounded() {
    var picker = makePicker(pieces: 10, maxInProgress: 2)
    let blocks = picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 100)
    #expect(Set(blocks.map(\.piece)).count == 2)
    #expect(picker.piecesInProgress == 2)
    // A waiting read shares the bound: it waits for a slot, and takes the next one that frees.
    picker.addWaitingRead(pieces: 5..<6)
    #expect(picker.pickBlocks(for: 2, peerHas: full(10), maxBlocks: 4).isEmpty)
    let done = blocks[0].piece
    for block in blocks where block.piece == done { _ = picker.blockReceived(from: 1, piece: done, begin: block.begin) }
    picker.pieceVerified(done)
    let next = picker.pickBlocks(for: 2, peerHas: full(10), maxBlocks: 4)
    #expect(!next.isEmpty && next.allSatisfy { $0.piece == 5 })
}

@Test func unsolicitedOrMisalignedBlocksAreUnwanted() {
    var picker = makePicker(pieces: 2)
    #expect(picker.blockReceived(from: 1, piece: 0, begin: 0) == .unwanted)
    _ = picker.pickBlocks(for: 1, peerHas: full(2), maxBlocks: 4)
    #expect(picker.blockReceived(from: 1, piece: 0, begin: 100) == .unwanted)
    #expect(picker.blockReceived(from: 1, piece: 7, begin: 0) == .unwanted)
    #expect(picker.blockReceived(from: 1, piece: -1, begin: 0) == .unwanted)
}

@Test func availabilityCountsPeersAndSeeds() {
    var picker = makePicker(pieces: 3)
    var has = Bitfield(count: 3)
    has[1] = true
    picker.peerAdded(bitfield: has)
    picker.seedAdded()
    picker.peerHasPiece(2)
    #expect(picker.availability(of: 0) == 1)
    #expect(picker.availability(of: 1) == 2)
    #expect(picker.availability(of: 2) == 2)
    picker.peerRemoved(bitfield: has)
    picker.seedRemoved()
    #expect(picker.availability(of: 1) == 0)
    #expect(picker.wantsAnything(from: has))
}

@Test func multiFileEdgesIgnorePaddingAndEmptyFiles() {
    let layout = FileLayout(pieceLength: 32768, files: [
        (path: ["t", "a"], length: 100_000, isPadding: false),
        (path: ["t", ".pad", "0"], length: 31072, isPadding: true),
        (path: ["t", "empty"], length: 0, isPadding: false),
        (path: ["t", "b"], length: 200_000, isPadding: false),
    ])
    var picker = PiecePicker(layout: layout, have: Bitfield(count: layout.pieceCount),
                             backgroundEnabled: true, maxPiecesInProgress: 100)
    // Edges come before the rest: seven blocks are exactly the four edge pieces (two blocks
    // each, but the short last piece has one).
    let pieces = Set(picker.pickBlocks(for: 1, peerHas: full(layout.pieceCount), maxBlocks: 7).map(\.piece))
    // a: bytes 0..<100000 -> pieces 0...3; b: bytes 131072..<331072 -> pieces 4...10.
    #expect(pieces == [0, 3, 4, 10])
}

@Test func aReadWaitingOnTheSwarmHoldsBackBackgroundButNotReadahead() {
    var picker = makePicker()
    picker.peerAdded(bitfield: full(10))
    picker.addWaitingRead(pieces: 6..<7)
    picker.setWindow(reader: 1, pieces: 7..<8)
    let blocks = picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 100)
    // A seek: the sought piece alone, its readahead once it is in.
    #expect(Set(blocks.map(\.piece)) == [6])
    for block in blocks { _ = picker.blockReceived(from: 1, piece: block.piece, begin: block.begin) }
    // The read still waits (piece 6 is being hashed): its readahead, and no edges, no fill.
    #expect(Set(picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 100).map(\.piece)) == [7])
    picker.removeWaitingRead(pieces: 6..<7)
    // Once nobody waits, the rest of the torrent is fair game again.
    #expect(picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 100).contains { $0.piece == 0 })
}

@Test func aSeekHoldsNewReadaheadOnlyWhileItsPieceIsOnTheWay() {
    var picker = makePicker()
    picker.peerAdded(bitfield: full(10))
    // A window piece already under way keeps going when the reader seeks elsewhere.
    picker.setWindow(reader: 1, pieces: 2..<3)
    let windowBlocks = picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 2)
    #expect(windowBlocks.map(\.piece) == [2, 2])
    picker.setWindow(reader: 1, pieces: 2..<4)
    picker.addWaitingRead(pieces: 6..<7)
    let seek = picker.pickBlocks(for: 2, peerHas: full(10), maxBlocks: 100)
    #expect(Set(seek.map(\.piece)) == [2, 6], "\(seek)")
    var allButSix = full(10)
    allButSix[6] = false
    #expect(picker.pickBlocks(for: 3, peerHas: allButSix, maxBlocks: 100).isEmpty)
    // The peer sending the sought piece went quiet and its requests were released: nothing is
    // on the way, so the reader's readahead is not held for it.
    for block in seek where block.piece == 6 { picker.requestReleased(by: 2, piece: 6, begin: block.begin) }
    #expect(Set(picker.pickBlocks(for: 3, peerHas: allButSix, maxBlocks: 100).map(\.piece)) == [3])
}

@Test func onALongLinkASeeksReadaheadGoesOutOnceTheReadHasWaitedTheRacingDelay() {
    var picker = makePicker()
    picker.peerAdded(bitfield: full(10))
    picker.addWaitingRead(pieces: 6..<7)
    picker.setWindow(reader: 1, pieces: 7..<9)
    #expect(Set(picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 100).map(\.piece)) == [6])
    // The sought blocks are all asked for and none is here after the delay: a long round trip.
    // Readahead goes out now, behind them, instead of a round trip after they arrive.
    picker.allowRacing(of: 6..<7)
    let next = picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 100)
    #expect(Set(next.map(\.piece)) == [7, 8], "\(next)")
    // Background fill stays off while the read waits.
    #expect(!next.contains { $0.piece == 0 || $0.piece == 9 })
}

@Test func aTailWindowGoesAheadOfReadaheadAndIsForgottenWithItsReader() {
    var picker = makePicker(background: false)
    picker.setWindow(reader: 3, pieces: 1..<3)
    picker.setTailWindow(reader: 3, pieces: 9..<10)
    #expect(picker.priority(of: 9) == .soon && picker.isReadOrReadAhead(9))
    let blocks = picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 8)
    #expect(blocks.map(\.piece) == [9, 9, 9, 9, 1, 1, 1, 1])
    // Clearing the readahead leaves the tail; clearing the tail leaves nothing (on-demand).
    picker.setWindow(reader: 3, pieces: nil)
    #expect(picker.priority(of: 2) == .none && picker.priority(of: 9) == .soon)
    picker.setTailWindow(reader: 3, pieces: nil)
    #expect(picker.priority(of: 9) == .none)
}

@Test func aTailWindowStartsFromTheFilesLastPiece() {
    // A player's index ends at the file's last byte and mostly fits in the last piece: that
    // piece goes first, then the ones before it, then readahead.
    var picker = makePicker(background: false)
    picker.setWindow(reader: 3, pieces: 1..<2)
    picker.setTailWindow(reader: 3, pieces: 7..<10)
    let blocks = picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 16)
    #expect(blocks.map(\.piece) == [9, 9, 9, 9, 8, 8, 8, 8, 7, 7, 7, 7, 1, 1, 1, 1], "\(blocks)")
    // A peer without the last piece starts with the one before it.
    var other = makePicker(background: false)
    other.setTailWindow(reader: 3, pieces: 7..<10)
    var partial = full(10)
    partial[9] = false
    other.peerAdded(bitfield: partial)
    #expect(other.pickBlocks(for: 2, peerHas: partial, maxBlocks: 6).map(\.piece) == [8, 8, 8, 8, 7, 7])
}

@Test func thePieceAReaderNeedsNextIsSharedAmongThePeersThatHaveIt() {
    // Four peers have everything; the reader's window is pieces 2-4 (four blocks each). Piece 2,
    // the next it needs, goes a block to each peer; the rest of the window a piece per peer.
    var picker = makePicker(background: false)
    for _ in 0..<4 { picker.peerAdded(bitfield: full(10)) }
    picker.setWindow(reader: 1, pieces: 2..<5)
    let first = picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 8)
    #expect(first.map(\.piece) == [2, 3, 3, 3, 3, 4, 4, 4], "\(first)")
    let second = picker.pickBlocks(for: 2, peerHas: full(10), maxBlocks: 2)
    #expect(second.map(\.piece) == [2, 4], "\(second)")
    // Once it is here, the next piece of the window is the one shared.
    var later = makePicker(background: false)
    for _ in 0..<4 { later.peerAdded(bitfield: full(10)) }
    later.pieceVerified(2)
    later.setWindow(reader: 1, pieces: 2..<5)
    #expect(later.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 8).map(\.piece) == [3, 4, 4, 4, 4])
    // A piece a read waits for is shared as such; the one after it is the next to share.
    var seek = makePicker(background: false)
    for _ in 0..<4 { seek.peerAdded(bitfield: full(10)) }
    seek.addWaitingRead(pieces: 6..<7)
    seek.setWindow(reader: 1, pieces: 6..<9)
    seek.allowRacing(of: 6..<7)
    #expect(seek.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 8).map(\.piece) == [6, 7, 8, 8, 8, 8], "the waited piece, then a share of the next")
}

@Test func aReadWaitingForAPieceNobodyHasDoesNotStallTheRest() {
    var picker = makePicker()
    var allButSix = full(10)
    allButSix[6] = false
    picker.peerAdded(bitfield: allButSix)
    picker.addWaitingRead(pieces: 6..<7)
    let blocks = picker.pickBlocks(for: 1, peerHas: allButSix, maxBlocks: 8)
    #expect(blocks.map(\.piece) == [0, 0, 0, 0, 9, 9, 9, 9])
}

@Test func holdingBackgroundKeepsOnlyReadsAndWindows() {
    var picker = makePicker()
    picker.holdBackground = true
    #expect(picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 100).isEmpty)
    picker.setWindow(reader: 1, pieces: 3..<4)
    #expect(picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 100).map(\.piece) == [3, 3, 3, 3])
    picker.holdBackground = false
    #expect(picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 100).contains { $0.piece == 0 })
}

@Test func aWaitedPieceIsSharedAmongThePeersThatHaveIt() {
    // 1 MiB pieces: 64 blocks, four peers hold the piece.
    var picker = makePicker(pieces: 4, pieceLength: 1024 * 1024)
    for _ in 0..<4 { picker.peerAdded(bitfield: full(4)) }
    picker.addWaitingRead(pieces: 2..<3)
    var taken: [PeerKey: [BlockSpec]] = [:]
    for peer in PeerKey(1)...PeerKey(4) {
        taken[peer] = picker.pickBlocks(for: peer, peerHas: full(4), maxBlocks: 64).filter { $0.piece == 2 }
    }
    #expect(taken.values.allSatisfy { $0.count == 16 }, "\(taken.mapValues(\.count))")
    // While its own share is in flight a peer gets no duplicates; once it delivered, it races
    // the slower peers' blocks, but only after the session allowed racing.
    picker.allowRacing(of: 2..<3)
    #expect(picker.pickBlocks(for: 1, peerHas: full(4), maxBlocks: 64).isEmpty)
    for block in taken[1] ?? [] { _ = picker.blockReceived(from: 1, piece: 2, begin: block.begin) }
    let again = picker.pickBlocks(for: 1, peerHas: full(4), maxBlocks: 64)
    #expect(again.count == 48 && again.allSatisfy { $0.piece == 2 })
}

@Test func noPieceStartsPastTheStoredBytesCeiling() {
    var picker = makePicker(pieces: 10, maxInProgress: 8)
    let pieceLength = Int64(picker.pieceSize(0))
    // Six pieces stored, room for eight: two more may be in progress, not a third.
    picker.storedBytes = 6 * pieceLength
    picker.storedBytesCeiling = 8 * pieceLength
    picker.addWaitingRead(pieces: 0..<4)
    let blocks = picker.pickBlocks(for: 1, peerHas: full(10), maxBlocks: 1_000)
    #expect(Set(blocks.map(\.piece)) == [0, 1])
    #expect(picker.piecesInProgress == 2)
    // Even a waiting read's piece waits until eviction has made room; then it starts.
    #expect(picker.pickBlocks(for: 2, peerHas: full(10), maxBlocks: 1_000).isEmpty)
    picker.storedBytesCeiling = nil
    #expect(Set(picker.pickBlocks(for: 2, peerHas: full(10), maxBlocks: 1_000).map(\.piece)).isSuperset(of: [2, 3]))
}

@Test func peersStillHandshakingGetTheirShareOfAWaitedPiece() {
    // 1 MiB pieces (64 blocks); the first seed has finished its handshakes, three more are
    // still in theirs (a mount's first piece, all four dialled at once).
    var picker = makePicker(pieces: 4, pieceLength: 1024 * 1024)
    picker.seedAdded()
    picker.peersJoining = 3
    picker.addWaitingRead(pieces: 0..<1)
    let first = picker.pickBlocks(for: 1, peerHas: full(4), maxBlocks: 32)
    #expect(first.filter { $0.piece == 0 }.count == 16, "a quarter of the waited piece, not half of it")
    #expect(first.prefix(16).allSatisfy { $0.piece == 0 }, "the rest it may queue goes behind its share")
    // As each joins, it takes a quarter too: the piece is out over all four.
    for peer: PeerKey in 2...4 {
        picker.seedAdded()
        picker.peersJoining -= 1
        let share = picker.pickBlocks(for: peer, peerHas: full(4), maxBlocks: 32).filter { $0.piece == 0 }
        #expect(share.count == 16, "peer \(peer)")
    }
    // Nobody joining and one holder: the waited piece goes to it whole (as far as it may queue).
    var alone = makePicker(pieces: 4, pieceLength: 1024 * 1024)
    alone.seedAdded()
    alone.addWaitingRead(pieces: 0..<1)
    #expect(alone.pickBlocks(for: 1, peerHas: full(4), maxBlocks: 64).filter { $0.piece == 0 }.count == 64)
    // Dozens joining (or a hostile count) do not shrink a holder's share below the floor.
    alone.peersJoining = Int.max
    alone.addWaitingRead(pieces: 1..<2)
    #expect(alone.pickBlocks(for: 1, peerHas: full(4), maxBlocks: 64).filter { $0.piece == 1 }.count
            == PiecePicker.minimumJoiningShare)
}

@Test func aPeersFirstWaitedBlocksGoOutAloneAndItsShareCountsWhatItOwes() {
    // A mount's first read: piece 0 waited for, pieces 1-2 its readahead, one seed admitted and
    // three more joining. Peers interleave what is queued, so the seed's first batch is its
    // quarter of piece 0 and nothing else, and so is a second fill before any block arrives.
    var picker = makePicker(pieces: 4, pieceLength: 1024 * 1024)
    picker.seedAdded()
    picker.peersJoining = 3
    picker.addWaitingRead(pieces: 0..<1)
    picker.setWindow(reader: 1, pieces: 1..<3)
    picker.allowRacing(of: 0..<1)  // the read has waited the racing delay (the peers took 250 ms)
    let first = picker.pickBlocks(for: 1, peerHas: full(4), maxBlocks: 32, waitedBlocksAlone: true)
    #expect(first.count == 16 && first.allSatisfy { $0.piece == 0 }, "\(first)")
    #expect(picker.pickBlocks(for: 1, peerHas: full(4), maxBlocks: 16, waitedBlocksAlone: true).isEmpty)
    // Once a block has landed, readahead queues behind what it still owes; of piece 0 it takes
    // only what keeps its share in flight (one block for the one that came), not a second share.
    _ = picker.blockReceived(from: 1, piece: 0, begin: 0)
    let next = picker.pickBlocks(for: 1, peerHas: full(4), maxBlocks: 16)
    #expect(next.filter { $0.piece == 0 }.count == 1, "\(next)")
    #expect(next.dropFirst().allSatisfy { $0.piece == 1 } && next.count == 16, "\(next)")
    // A media file's tail is the exception: the player reads it right after the first bytes.
    var player = makePicker(pieces: 8, pieceLength: 1024 * 1024)
    player.seedAdded()
    player.peersJoining = 3
    player.addWaitingRead(pieces: 0..<1)
    player.setWindow(reader: 1, pieces: 1..<3)
    player.setTailWindow(reader: 1, pieces: 7..<8)
    player.allowRacing(of: 0..<1)
    let opening = player.pickBlocks(for: 1, peerHas: full(8), maxBlocks: 32, waitedBlocksAlone: true)
    #expect(opening.prefix(16).allSatisfy { $0.piece == 0 } && opening.dropFirst(16).allSatisfy { $0.piece == 7 }
            && opening.count == 32, "\(opening)")
    // Nothing waited for: an empty queue gets readahead as before.
    var idle = makePicker(pieces: 4, pieceLength: 1024 * 1024)
    idle.seedAdded()
    idle.setWindow(reader: 1, pieces: 1..<3)
    #expect(idle.pickBlocks(for: 1, peerHas: full(4), maxBlocks: 8, waitedBlocksAlone: true).allSatisfy { $0.piece == 1 })
}
