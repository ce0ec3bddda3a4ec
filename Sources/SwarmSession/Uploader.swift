import NIOCore
import SwarmPieces
import SwarmWire

/// Serving peers: who is unchoked (the choker), the blocks of peers' requests being read from
/// the cache or waiting for the engine's upload tokens, and what we uploaded. Owned by the
/// Foreman and confined to its loop; the Foreman hands it every upload event, and it reads the
/// Foreman's peers and pieces but changes no piece state.
///
/// Invariants:
/// - `peer.servingRequests` counts the peer's requests being read from disk or queued here.
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

    /// The peer cancelled `request`: dropped from the queue (and refused), or, while its block
    /// is being read, dropped when the read is done.
    func cancel(_ request: BlockRequest, from peer: PeerConnection) {
        if queue.cancel(request, peer: peer.key) {
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
    }

    private var unchokedCount: Int { foreman.peers.values.reduce(0) { $0 + ($1.amChoking ? 0 : 1) } }

    /// A newly interested peer is unchoked at once while slots are free; the periodic choker
    /// decides the rest.
    func considerUnchoking(_ peer: PeerConnection) {
        guard foreman.configuration.uploadEnabled, peer.amChoking, peer.peerInterested,
              unchokedCount < choker.regularSlots + 1 else { return }
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
    }

    /// Tells a fast-extension peer that `request` will not be served (others just never get it).
    /// Nothing is queued for a peer that does not read: a flood of refusals may not grow our
    /// send buffer either.
    func refuse(_ request: BlockRequest, to peer: PeerConnection) {
        guard peer.supportsFast, peer.isWritable else { return }
        peer.send(.reject(request))
        peer.flush()
    }

    /// Serves a block of a verified piece from the cache, read on the thread pool.
    func serveRequest(_ request: BlockRequest, to peer: PeerConnection) {
        let piece = Int(request.piece), begin = Int(request.begin), length = Int(request.length)
        let layout = foreman.layout
        let valid = piece < layout.pieceCount && length > 0 && length <= 128 * 1024
            && begin + length <= layout.pieceSize(piece)
        // A peer that does not read what we send (a full socket buffer), or holds its share of
        // the upload queue already, gets nothing more: its backlog may not grow our memory.
        guard valid, !peer.amChoking, foreman.picker.hasPiece(piece), peer.servingRequests < 256, peer.isWritable,
              queue.reserve(length, for: peer.key) else {
            refuse(request, to: peer)
            return
        }
        guard let buffer = peer.allocateBuffer(capacity: length) else {
            queue.release(length, for: peer.key)
            refuse(request, to: peer)
            return
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
    }
}
