import NIOCore
import SwarmMetainfo
import SwarmPieces
import SwarmWire

/// Asking peers for blocks: keeps each peer's request pipeline full within the engine's download
/// limit, takes requests back (a seek's preemption, a stalled peer, a choke, a reject, a
/// disconnect), adapts each peer's pipeline depth to its rate, and counts what arrives. Owned by
/// the Foreman and confined to its loop; the Foreman's picker chooses the blocks, the scheduler
/// sends and withdraws the requests.
///
/// Invariants:
/// - A block is in `peer.outstanding` <=> the picker names the peer as a holder of it; every
///   method here that drops one drops the other (a block that arrives, or that the picker
///   hands to a racer, leaves both at once in `blockArrived` and `blockReceived`).
/// - `peer.cancelledByUs` holds at most `cancelledRequestLimit` blocks.
/// - No request is sent while the Foreman is stopped or storage is paused.
final class RequestScheduler {
    private unowned let foreman: Foreman
    /// The engine's token buckets, shared with every torrent (refilled by the Foreman's tick).
    private let limits: RateLimits
    /// What we downloaded, all peers together.
    private(set) var meter = RateMeter()
    private let fullBitfield: Bitfield

    init(foreman: Foreman, limits: RateLimits) {
        self.foreman = foreman
        self.limits = limits
        fullBitfield = Bitfield.full(count: foreman.layout.pieceCount)
    }

    /// Seconds of a peer's measured rate kept requested from it: the round trip and a quarter
    /// (the path itself, and room for the rate to grow a quarter every round trip) plus
    /// `queueMargin` for a peer that is slow to serve, at most `maxQueueSeconds`. What is queued
    /// beyond the path waits at the peer (and in the network in front of us), cannot be
    /// cancelled, and every sought block waits behind it: at 100 ms one way the old two round
    /// trips and 0.25 s put 0.45 s of a peer's rate in front of a seek. A pipeline's first climb
    /// is `PipelineSlowStart`'s. Before a round trip is known: `maxQueueSeconds`.
    static func queueSeconds(roundTrip: TimeAmount?) -> Double {
        guard let roundTrip else { return maxQueueSeconds }
        return min(maxQueueSeconds, 1.25 * Double(roundTrip.nanoseconds) / 1e9 + queueMargin)
    }
    static let queueMargin = 0.05
    static let maxQueueSeconds = 2.0
    /// The most requests in flight to one peer (8 MiB of 16 KiB blocks; libtorrent's default
    /// `max_out_request_queue` is 500).
    static let maxPipelineDepth = 512
    /// The most cancelled requests remembered per peer (a full pipeline of the deepest peer).
    static let cancelledRequestLimit = 1024
    /// The fewest requests in flight to a peer that serves (a stalled one drops to 4).
    static let minimumDepth = 16

    // MARK: - Blocks in

    /// A block arrived: whether we asked this peer for it (or cancelled it and may still use it).
    /// Unsolicited blocks are not trusted, not used; one we cancelled is used if still needed
    /// (the picker refuses it otherwise), and like any block it must pass the piece's hash.
    func blockArrived(_ spec: BlockSpec, from peer: PeerConnection) -> Bool {
        if let sentAt = peer.outstanding.removeValue(forKey: spec) {
            // Asked for again after a cancel: the copy asked for first may be what arrived, and
            // its time would make the round trip (and with it the pipeline) far too short.
            if peer.cancelledByUs.removeValue(forKey: spec) == nil {
                sampleRoundTrip(of: peer, sentAt: sentAt)
            }
        } else if peer.cancelledByUs.removeValue(forKey: spec) == nil {
            return false
        }
        peer.download.add(spec.length)
        meter.add(spec.length)
        limits.download.spend(spec.length)
        peer.lastBlockAt = foreman.clock.now
        peer.waitedBatchUnstarted = false
        return true
    }

    /// A block asked for at `sentAt` arrived: the round trip learns from it, and while the
    /// pipeline's slow start runs, one more request may go out.
    private func sampleRoundTrip(of peer: PeerConnection, sentAt: NIODeadline) {
        let now = foreman.clock.now
        peer.roundTrip.sample(sentAt: sentAt, now: now)
        guard peer.slowStart.isRunning, now >= sentAt, let quickest = peer.roundTrip.value else { return }
        let pipeFull = 2 * (peer.outstanding.count + 1) >= peer.pipelineDepth
        guard peer.slowStart.blockArrived(elapsed: now - sentAt, quickest: quickest, pipeFull: pipeFull) else { return }
        peer.pipelineDepth = max(peer.pipelineDepth, allowedDepth(peer.slowStart.depth, for: peer))
    }

    /// Another peer delivered `spec` first (a race): the picker has let go of this peer's
    /// request already, so it is only withdrawn here and cancelled at the peer.
    func lostRace(_ spec: BlockSpec, at racer: PeerConnection) {
        guard racer.outstanding.removeValue(forKey: spec) != nil else { return }
        cancel(spec, at: racer)
        racer.flush()
    }

    /// The peer will not send `spec` (BEP 6 reject): someone else may be asked.
    func rejected(_ spec: BlockSpec, by peer: PeerConnection) {
        if peer.outstanding.removeValue(forKey: spec) != nil {
            foreman.picker.requestReleased(by: peer.key, piece: spec.piece, begin: spec.begin)
        }
        peer.cancelledByUs[spec] = nil
    }

    // MARK: - Requests out

    /// Keeps the peer's request pipeline full, topping it up in batches.
    func fill(_ peer: PeerConnection) {
        guard peer.handshakeDone, peer.amInterested, !foreman.stopped, !foreman.isStoragePaused else { return }
        // A choking peer still serves the pieces it allowed fast (BEP 6); nothing else.
        let choked = peer.peerChoking
        guard !choked || !peer.allowedFast.isEmpty else { return }
        if foreman.cache.limit != nil { foreman.updateBackgroundFill() }
        foreman.picker.maxPiecesInProgress = foreman.pieceMemory.allowedPieces
        let depth = min(peer.pipelineDepth, peer.peerRequestQueueLimit, fairShare)
        var free = depth - peer.outstanding.count
        guard free > 0, peer.outstanding.isEmpty || free >= max(1, depth / 4)
                || !foreman.picker.piecesWaitingForReadersIsZero else { return }
        if limits.download.isLimited {
            // A request spends the limit when it is sent, not when its block lands: blocks already
            // asked for will arrive whatever we do, so they count against the tokens now.
            let unreserved = limits.download.tokens - requestedBytesInFlight
            guard unreserved > 0 else { return }
            free = min(free, Int((unreserved + Int64(PiecePicker.blockSize) - 1) / Int64(PiecePicker.blockSize)))
        }
        var offered = peer.isSeed ? fullBitfield : peer.pieces
        if choked {
            var allowed = Bitfield(count: foreman.layout.pieceCount)
            for piece in peer.allowedFast where offered[piece] { allowed[piece] = true }
            offered = allowed
        }
        foreman.picker.peersJoining = foreman.roster.joiningCount
        let waitedAlone = peer.outstanding.isEmpty || peer.waitedBatchUnstarted
        let blocks = foreman.picker.pickBlocks(for: peer.key, peerHas: offered, maxBlocks: free,
                                               waitedBlocksAlone: waitedAlone)
        foreman.pieceMemory.report(foreman.picker)
        guard !blocks.isEmpty else { return }
        if waitedAlone && !peer.waitedBatchUnstarted {
            peer.waitedBatchUnstarted = blocks.contains { foreman.picker.priority(of: $0.piece) == .now }
        }
        let now = foreman.clock.now
        for block in blocks {
            peer.outstanding[block] = now
            peer.send(.request(BlockRequest(piece: UInt32(block.piece), begin: UInt32(block.begin), length: UInt32(block.length))))
        }
        if peer.outstanding.count == blocks.count { peer.lastBlockAt = now }
        peer.flush()
    }

    /// The most blocks one peer may have requested: an equal part of what the pieces in flight
    /// hold among the peers that may be asked now (unchoked, or with allowed-fast pieces, and
    /// interesting), at least `minimumShare`. Without it the first peers to ask fill every piece the
    /// memory budget allows with their own deep queues (2 s of a 4 MiB/s peer is 8 MiB, half of
    /// the default budget), and the others idle: on a swarm of four such peers 40 ms away, one
    /// seeder served 5-9 MiB of 256. A faster peer still gets more: its share empties sooner.
    var fairShare: Int {
        let blocksPerPiece = (foreman.picker.pieceLength + PiecePicker.blockSize - 1) / PiecePicker.blockSize
        let budget = foreman.picker.maxPiecesInProgress * blocksPerPiece
        let servingPeers = foreman.peers.values.count { $0.amInterested && (!$0.peerChoking || !$0.allowedFast.isEmpty) }
        return max(Self.minimumShare, budget / max(1, servingPeers))
    }

    /// Enough for a round trip at a few MiB/s, whatever the budget.
    static let minimumShare = 16

    func fillAll() {
        for peer in foreman.peers.values { fill(peer) }
    }

    /// A reader now waits for pieces nobody is fetching: cancel every background request queued
    /// at each peer (readahead windows are kept), so the reader's blocks go out next instead of
    /// behind megabytes of background fill. Keeping a few queued so that no peer idles made seeks
    /// slower (p50 3.8-4.6 ms against 3.6-3.8 ms, same swarm, alternating runs): the sought piece
    /// is shared among all peers that have it, so none idles anyway. Blocks already on the wire
    /// are kept when they land (see `cancel`).
    func preemptQueued() {
        for peer in foreman.peers.values where !peer.outstanding.isEmpty {
            let background = peer.outstanding.keys.filter { foreman.picker.priority(of: $0.piece) < .soon }
            guard !background.isEmpty else { continue }
            for spec in background {
                peer.outstanding[spec] = nil
                foreman.picker.requestReleased(by: peer.key, piece: spec.piece, begin: spec.begin)
                cancel(spec, at: peer)
            }
            peer.flush()
        }
    }

    /// Takes back every request outstanding at `peer` (telling it, with `sendCancel`).
    func releaseAll(of peer: PeerConnection, sendCancel: Bool) {
        for spec in peer.outstanding.keys {
            foreman.picker.requestReleased(by: peer.key, piece: spec.piece, begin: spec.begin)
            if sendCancel { cancel(spec, at: peer) }
        }
        peer.outstanding.removeAll(keepingCapacity: true)
        if sendCancel { peer.flush() }
    }

    /// Sends `cancel` for a request we no longer hold against the peer, and remembers it: on
    /// loopback most cancelled blocks are already on the wire, and dropping them when they land
    /// would throw away bandwidth the piece still needs.
    private func cancel(_ spec: BlockSpec, at peer: PeerConnection) {
        peer.send(.cancel(BlockRequest(piece: UInt32(spec.piece), begin: UInt32(spec.begin), length: UInt32(spec.length))))
        if peer.cancelledByUs.count < Self.cancelledRequestLimit { peer.cancelledByUs[spec] = foreman.clock.now }
    }

    /// Bytes requested from all peers and not yet arrived (blocks counted at full size).
    private var requestedBytesInFlight: Int64 {
        foreman.peers.values.reduce(0) { $0 + Int64($1.outstanding.count) } * Int64(PiecePicker.blockSize)
    }

    // MARK: - Housekeeping

    /// Every tick: the download rate decays.
    func tick(seconds: Double) {
        meter.tick(seconds: seconds)
    }

    /// Every tick, for each peer: its pipeline depth follows its rate, old cancels are forgotten,
    /// and a peer that has sent nothing for a while loses its requests to others.
    func tick(_ peer: PeerConnection, now: NIODeadline, forgetOldCancels: Bool) {
        // Enough requests in flight for the path and a little of this peer's rate, within what
        // it queues: a slow or distant peer is never idle, and a seek never waits behind more
        // than that (libtorrent keeps 3 s, which on a 4 MiB/s link is 12 MiB in front of a
        // sought piece). The rate of the last tick alone counts when higher: the average lags.
        let rate = max(peer.download.bytesPerSecond, peer.download.lastTickBytesPerSecond)
        let target = Int(min(rate * Self.queueSeconds(roundTrip: peer.roundTrip.value), Double(Int32.max))) / PiecePicker.blockSize
        peer.pipelineDepth = allowedDepth(peer.slowStart.isRunning ? max(target, peer.slowStart.depth) : target, for: peer)
        if !peer.cancelledByUs.isEmpty, forgetOldCancels {
            peer.cancelledByUs = peer.cancelledByUs.filter { now - $0.value < .seconds(30) }
        }
        // A peer that has sent nothing for a while loses its requests to others.
        if !peer.outstanding.isEmpty, now - peer.lastBlockAt > .seconds(stallSeconds) {
            foreman.logger.debug("peer stalled; reassigning its requests", metadata: ["peer": "\(peer.address)"])
            releaseAll(of: peer, sendCancel: true)
            peer.pipelineDepth = 4
            peer.lastBlockAt = now
        }
    }

    /// `wanted` requests in flight, within what the peer queues and at least `minimumDepth`;
    /// under a download limit no more than half a second of the limit.
    private func allowedDepth(_ wanted: Int, for peer: PeerConnection) -> Int {
        let depth = max(Self.minimumDepth, min(wanted, Self.maxPipelineDepth, peer.peerRequestQueueLimit))
        guard limits.download.isLimited else { return depth }
        return max(2, min(depth, Int(limits.download.rate / 2) / PiecePicker.blockSize))
    }

    /// How long a peer may stay silent with requests outstanding: short while a reader waits.
    private var stallSeconds: Int64 {
        foreman.picker.piecesWaitingForReadersIsZero ? 10 : 3
    }
}
