import SwarmMetainfo
import SwarmPieces
import Testing

/// Waiting reads and the piece-memory budget (`maxPiecesInProgress`): reads share it with
/// readahead and background, queue oldest first, and are served before readahead.
private func makePicker(pieces: Int, maxInProgress: Int, background: Bool = false) -> PiecePicker {
    let layout = FileLayout(pieceLength: 64 * 1024,
                            files: [(path: ["f"], length: Int64(64 * 1024 * pieces), isPadding: false)])
    return PiecePicker(layout: layout, have: Bitfield(count: pieces), backgroundEnabled: background,
                       maxPiecesInProgress: maxInProgress)
}

private func startedPieces(_ blocks: [BlockSpec]) -> Set<Int> { Set(blocks.map(\.piece)) }

@Test func readsOfManyDifferentPiecesStayWithinTheMemoryBudget() {
    var picker = makePicker(pieces: 500, maxInProgress: 4)
    picker.peerAdded(bitfield: Bitfield.full(count: 500))
    for piece in 0..<500 { picker.addWaitingRead(pieces: piece..<(piece + 1)) }
    for peer in 1...20 { _ = picker.pickBlocks(for: PeerKey(peer), peerHas: Bitfield.full(count: 500), maxBlocks: 512) }
    #expect(picker.piecesInProgress == 4)
}

@Test func theOldestWaitingReadGetsPieceMemoryFirst() {
    var picker = makePicker(pieces: 10, maxInProgress: 2)
    picker.peerAdded(bitfield: Bitfield.full(count: 10))
    // Reads arrive for pieces 9, 7, 3, 1, in that order.
    for piece in [9, 7, 3, 1] { picker.addWaitingRead(pieces: piece..<(piece + 1)) }
    let blocks = picker.pickBlocks(for: 1, peerHas: Bitfield.full(count: 10), maxBlocks: 64)
    #expect(startedPieces(blocks) == [9, 7])
}

@Test func aWaitingReadGetsTheFreeSlotBeforeReadahead() {
    var picker = makePicker(pieces: 10, maxInProgress: 1)
    var onlyFive = Bitfield(count: 10)
    onlyFive[5] = true
    var allButFive = Bitfield.full(count: 10)
    allButFive[5] = false
    picker.peerAdded(bitfield: onlyFive)
    picker.peerAdded(bitfield: allButFive)
    picker.setWindow(reader: 1, pieces: 6..<10)
    picker.addWaitingRead(pieces: 5..<6)
    // Peer 2 lacks the read's piece: it must not take the only slot for readahead.
    #expect(picker.pickBlocks(for: 2, peerHas: allButFive, maxBlocks: 64).isEmpty)
    #expect(startedPieces(picker.pickBlocks(for: 1, peerHas: onlyFive, maxBlocks: 64)) == [5])
}

@Test func aQueuedReadStartsWhenAPieceFrees() {
    var picker = makePicker(pieces: 4, maxInProgress: 1)
    picker.peerAdded(bitfield: Bitfield.full(count: 4))
    picker.addWaitingRead(pieces: 0..<1)
    picker.addWaitingRead(pieces: 2..<3)
    let first = picker.pickBlocks(for: 1, peerHas: Bitfield.full(count: 4), maxBlocks: 64)
    #expect(startedPieces(first) == [0])
    for block in first { _ = picker.blockReceived(from: 1, piece: block.piece, begin: block.begin) }
    picker.pieceVerified(0)
    picker.removeWaitingRead(pieces: 0..<1)
    #expect(startedPieces(picker.pickBlocks(for: 1, peerHas: Bitfield.full(count: 4), maxBlocks: 64)) == [2])
}

@Test func backgroundPiecesHoldingTheBudgetAreFinishedWhileAReadQueues() {
    // A seek cancels the background requests; if the pieces they belonged to kept the whole
    // budget and were not fetched while the read waits, the read would never get a slot.
    var picker = makePicker(pieces: 10, maxInProgress: 2, background: true)
    picker.peerAdded(bitfield: Bitfield.full(count: 10))
    let background = picker.pickBlocks(for: 1, peerHas: Bitfield.full(count: 10), maxBlocks: 8)
    #expect(picker.piecesInProgress == 2)
    for block in background { picker.requestReleased(by: 1, piece: block.piece, begin: block.begin) }
    picker.addWaitingRead(pieces: 5..<6)
    picker.holdBackground = true
    let resumed = picker.pickBlocks(for: 1, peerHas: Bitfield.full(count: 10), maxBlocks: 8)
    #expect(startedPieces(resumed) == startedPieces(background))
    for block in resumed { _ = picker.blockReceived(from: 1, piece: block.piece, begin: block.begin) }
    for piece in startedPieces(resumed) { picker.pieceVerified(piece) }
    #expect(startedPieces(picker.pickBlocks(for: 1, peerHas: Bitfield.full(count: 10), maxBlocks: 8)) == [5])
}
