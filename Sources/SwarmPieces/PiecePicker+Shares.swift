/// How a piece that reads wait for, or the one a reader needs next, is shared out among the peers
/// (`pickBlocks`).
extension PiecePicker {
    /// How many free blocks of a shared piece (a *now* piece, or the one a reader needs next,
    /// `readaheadHeads`) one peer takes at a time: a share of the piece for
    /// each peer that has it, so the piece comes in over every connection at once instead of
    /// queueing behind one; whoever finishes its share early comes back for more or races.
    /// Peers still handshaking count as holders: right after a mount they finish their
    /// handshakes within milliseconds of each other, and the first two to do so took the whole
    /// first piece (half each) while the later two fetched the media tail; at 40 ms and 4 MiB/s a
    /// peer, a quarter each brings the piece in 60 ms sooner. A joining peer without the piece
    /// costs little: the blocks it would have taken go to the next peer that asks. So that many
    /// joining peers (dozens of handshakes on a big swarm) cannot shrink a holder's share to a
    /// block or two a round trip, they never bring it below `minimumJoiningShare`.
    func nowShare(of piece: Int) -> Int {
        let blocks = blockCount(ofPiece: piece)
        let holders = max(1, min(availability(of: piece), blocks))
        let share = (blocks + holders - 1) / holders
        let joining = min(max(0, peersJoining), blocks)
        guard joining > 0 else { return share }
        let withJoining = max(1, min(holders + joining, blocks))
        return max((blocks + withJoining - 1) / withJoining, min(share, Self.minimumJoiningShare))
    }

    /// Blocks of `piece` requested from `peer` that have not arrived: its share counts them, so
    /// a peer filled twice in a row (its unchoke, then its next read batch) does not take two.
    func blocksOwed(of piece: Int, by peer: PeerKey) -> Int {
        guard let partial = partials[piece] else { return 0 }
        var owed = 0
        for block in 0..<partial.blockCount where !partial.received[block] && partial.first[block] == peer { owed += 1 }
        return owed
    }

    /// The fewest blocks of a waited piece a peer takes at a time while others are joining.
    public static let minimumJoiningShare = 8

    /// The most blocks `peer`'s batch may hold (`picked` so far, at most `maxBlocks`) once it
    /// has its share of `piece`: what it already owes of the piece counts against the share.
    func shareLimit(of piece: Int, for peer: PeerKey, picked: Int, max maxBlocks: Int) -> Int {
        min(maxBlocks, picked + max(0, nowShare(of: piece) - blocksOwed(of: piece, by: peer)))
    }

    /// Whether `peer`, having delivered its own share, may duplicate blocks of *now* piece
    /// `piece` that others still owe (see `allowRacing`).
    func isRaceable(_ piece: Int, by peer: PeerKey) -> Bool {
        guard nowReferences[piece] != nil, raceablePieces.contains(piece), let partial = partials[piece],
              partial.unrequested == 0 else { return false }
        for block in 0..<partial.blockCount where !partial.received[block] {
            if partial.first[block] == peer || partial.second[block] == peer { return false }
        }
        return true
    }

    /// Whether `peer` still owes blocks of pieces that reads wait for.
    func owesWaitedBlocks(_ peer: PeerKey) -> Bool {
        nowReferences.keys.contains { blocksOwed(of: $0, by: peer) > 0 }
    }
}
