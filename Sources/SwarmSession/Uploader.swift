import NIOCore
import SwarmPieces
import SwarmWire

/// Serving peers: who is unchoked (the choker), the blocks of peers' requests being read from
/// the cache or waiting for the engine's upload tokens, and what we uploaded. Owned by the
/// Foreman and confined to its loop; the Foreman hands it every upload event, and it reads the
/// Foreman's peers and pieces but changes no piece state.
///
/// A request that arrives while its peer can take no more (its channel not writable: a socket,
/// or a uTP connection's pipe, full; or its share of the queue in use) is parked on the peer and
/// served in order as it drains, never dropped: a peer that gets neither the block nor a reject
/// waits for it (libtorrent did, for the rest of a download).
///
/// Invariants:
/// - `peer.servingRequests` counts the peer's requests being read from disk or queued here.
/// - `peer.parkedRequests` holds at most `parkedRequestLimit` requests, none while we choke it.
/// - Bytes reserved for a peer in `queue` cover its blocks being read or queued, and are
///   released exactly once, when the block is sent, refused, or the peer is gone.
final class Uploader {
    private unowned let foreman: Foreman
    private var choker = Choker()
    private var random = SystemRandomNumberGenerator()
    /// The engine's token buckets, shared with every torrent (refilled by the Foreman's tick).
    private let limits: RateLimits
    /// Blocks of peers' requests being read from disk or waiting for upload tokens (bounded).
    private var queue = UploadQueue()
    private(set) var meter = RateMeter()

    init(foreman: Foreman, limits: RateLimits) {
        self.foreman = foreman
        self.limits = limits
    }

    /// Requests parked per peer: past our `reqq` (500), which a peer should not exceed anyway.
    static let parkedRequestLimit = 512

    /// The peer cancelled `request`: dropped from the queue (and refused), or, while its block
    /// is being read, dropped when the read is done.
    func cancel(_ request: BlockRequest, from peer: PeerConnection) {
        if let index = peer.parkedRequests.firstIndex(of: request) {
            peer.parkedRequests.remove(at: index)
            refuse(request, to: peer)
        } else if queue.cancel(request, peer: peer.key) {
            peer.servingRequests -= 1
            refuse(request, to: peer)
        } else if peer.servingRequests > peer.cancelledRequests.count {
            peer.cancelledRequests.insert(request)
        }
    }

    /// The peer is gone: its queued blocks go, and their reservations with them.
    func peerGone(_ key: PeerKey) {
        queue.removeAll(of: key)
    }

    /// Every tick, after the engine's tokens came back: the rate decays, and blocks that waited
    /// for tokens go out.
    func tick(seconds: Double) {
        meter.tick(seconds: seconds)
        drainPendingSends()
        for peer in foreman.peers.values where !peer.parkedRequests.isEmpty {
            resumeParked(for: peer)
        }
    }

    private var unchokedCount: Int { foreman.peers.values.reduce(0) { $0 + ($1.amChoking ? 0 : 1) } }

    /// A peer that just joined is unchoked with our first message while a slot is free and we
    /// have something to give, before it says it is interested (as libtorrent does): its
    /// requests can then follow its `interested` at once, a round trip sooner than after the
    /// unchoke that `interested` would earn (80 ms at 40 ms one way). One that stays
    /// uninterested loses the slot at the choker's next turn.
    func unchokeNewcomer(_ peer: PeerConnection, weHavePieces: Bool) {
        if weHavePieces { unchokeIfSlotFree(peer) }
    }

    /// A newly interested peer is unchoked at once while slots are free; the periodic choker
    /// decides the rest.
    func considerUnchoking(_ peer: PeerConnection) {
        if peer.peerInterested { unchokeIfSlotFree(peer) }
    }

    /// Unchokes a choked peer when uploading is on and a regular or the optimistic slot is free.
    private func unchokeIfSlotFree(_ peer: PeerConnection) {
        guard foreman.configuration.uploadEnabled, peer.amChoking, unchokedCount < choker.regularSlots + 1 else { return }
        setChoked(peer, false)
    }

    func choke(_ peer: PeerConnection) {
        setChoked(peer, true)
        if let next = foreman.peers.values.first(where: { $0.amChoking && $0.peerInterested }) { considerUnchoking(next) }
    }

    private func setChoked(_ peer: PeerConnection, _ choked: Bool) {
        guard peer.amChoking != choked else { return }
        peer.amChoking = choked
        peer.send(choked ? .choke : .unchoke)
        // Choked, its requests are void: BEP 6 peers hear each refused after the choke (before
        // it, they would ask again at once), also through a full channel (the choke is queued
        // there too; the rejects are bounded by the parking).
        while choked, let request = peer.parkedRequests.popFirst() {
            refuse(request, to: peer, evenIfFull: true)
        }
        peer.flush()
    }

    /// Every 10 s: regular slots by reciprocation (by upload rate when seeding), one optimistic
    /// slot rotated every 30 s, snubbing peers skipped.
    func runChoker(rotateOptimistic: Bool) {
        guard foreman.configuration.uploadEnabled else { return }
        let now = foreman.clock.now
        let candidates = foreman.peers.values.filter(\.handshakeDone).map { peer in
            ChokeCandidate(key: peer.key, interested: peer.peerInterested,
                           downloadRate: peer.download.bytesPerSecond, uploadRate: peer.upload.bytesPerSecond,
                           snubbed: peer.amInterested && !peer.peerChoking && now - peer.lastBlockAt > .seconds(60))
        }
        let unchoke = choker.decide(candidates, seeding: foreman.picker.isComplete, rotateOptimistic: rotateOptimistic,
                                    using: &random)
        for peer in foreman.peers.values where peer.handshakeDone {
            setChoked(peer, !unchoke.contains(peer.key))
        }
    }

    /// Sends blocks that waited for upload tokens, oldest first.
    func drainPendingSends() {
        while limits.upload.canSpend, let item = queue.popFirst() {
            guard let peer = foreman.peers[item.peer] else { continue }
            sendBlock(item.block, for: item.request, to: peer)
        }
    }

    private func sendBlock(_ block: ByteBuffer, for request: BlockRequest, to peer: PeerConnection) {
        peer.servingRequests -= 1
        // A cancelled request, or one we choked before answering: BEP 6 peers hear it was refused.
        guard peer.cancelledRequests.remove(request) == nil, !peer.amChoking, block.readableBytes > 0 else {
            refuse(request, to: peer)
            return
        }
        peer.send(.piece(index: request.piece, begin: request.begin, block: block))
        peer.flush()
        peer.upload.add(block.readableBytes)
        meter.add(block.readableBytes)
        limits.upload.spend(block.readableBytes)
        resumeParked(for: peer)
    }

    /// Starts serving the peer's parked requests, oldest first, while it can take them.
    func resumeParked(for peer: PeerConnection) {
        while !peer.amChoking, let request = peer.parkedRequests.first {
            guard startServing(request, to: peer) else { return }
            peer.parkedRequests.removeFirst()
        }
    }

    /// Tells a fast-extension peer that `request` will not be served (others just never get it).
    /// Nothing is queued for a peer that does not read (unless `evenIfFull`, for a bounded
    /// number): a flood of refusals may not grow our send buffer either.
    func refuse(_ request: BlockRequest, to peer: PeerConnection, evenIfFull: Bool = false) {
        guard peer.supportsFast, peer.isWritable || evenIfFull else { return }
        peer.send(.reject(request))
        peer.flush()
    }

    /// Serves a block of a verified piece from the cache, read on the thread pool; parks the
    /// request while the peer can take no more.
    func serveRequest(_ request: BlockRequest, to peer: PeerConnection) {
        let piece = Int(request.piece), length = Int(request.length)
        let layout = foreman.layout
        let valid = piece < layout.pieceCount && length > 0 && length <= 128 * 1024
            && Int(request.begin) + length <= layout.pieceSize(piece)
        guard valid, !peer.amChoking, foreman.picker.hasPiece(piece) else {
            refuse(request, to: peer)
            return
        }
        // In order: nothing overtakes what waits.
        if peer.parkedRequests.isEmpty, startServing(request, to: peer) { return }
        guard peer.parkedRequests.count < Self.parkedRequestLimit else {
            refuse(request, to: peer)
            return
        }
        peer.parkedRequests.append(request)
    }

    /// Reads the block of a valid request if the peer can take it now: false when it must wait.
    /// A peer that does not read what we send (a full socket buffer), or holds its share of the
    /// upload queue already, gets nothing more read: its backlog may not grow our memory.
    private func startServing(_ request: BlockRequest, to peer: PeerConnection) -> Bool {
        let piece = Int(request.piece), begin = Int(request.begin), length = Int(request.length)
        guard peer.servingRequests < 256, peer.isWritable, queue.reserve(length, for: peer.key) else { return false }
        guard let buffer = peer.allocateBuffer(capacity: length) else {
            queue.release(length, for: peer.key)
            return false
        }
        peer.servingRequests += 1
        let store = foreman.store
        let verified = foreman.verified
        let bound = NIOLoopBound(self, eventLoop: foreman.eventLoop)
        let key = peer.key
        foreman.threadPool.runIfActive(eventLoop: foreman.eventLoop) { () -> ByteBuffer? in
            // Pinned like a reader's reply: eviction may be punching this piece's hole right now.
            guard verified.beginRead(piece..<(piece + 1)) else { return nil }
            defer { verified.endRead(piece..<(piece + 1)) }
            var block = buffer
            do {
                try block.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { pointer in
                    try store.readBlock(piece: piece, begin: begin,
                                        into: UnsafeMutableRawBufferPointer(rebasing: pointer[0..<length]))
                    return length
                }
                return block
            } catch {
                return nil
            }
        }.whenSuccess { block in
            let uploader = bound.value
            guard let peer = uploader.foreman.peers[key], let block else {
                uploader.queue.release(length, for: key)
                guard let peer = uploader.foreman.peers[key] else { return }
                peer.servingRequests -= 1
                peer.cancelledRequests.remove(request)
                uploader.refuse(request, to: peer)
                return
            }
            if uploader.limits.upload.canSpend && uploader.queue.isEmpty {
                uploader.queue.release(length, for: key)
                uploader.sendBlock(block, for: request, to: peer)
            } else {
                uploader.queue.enqueue(block, for: request, peer: key)
            }
        }
        return true
    }
}
