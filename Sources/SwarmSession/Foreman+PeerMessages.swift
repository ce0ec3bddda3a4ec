import NIOCore
import SwarmMetainfo
import SwarmPieces
import SwarmWire

/// What a peer's messages mean to the Foreman: what the peer has (and whether we want any of it),
/// choking and interest both ways, requests to serve, blocks that arrive, and protocol errors,
/// which close the peer and ban its host.
extension Foreman {
    /// The most allowed-fast pieces remembered per peer (BEP 6 suggests peers offer about 10).
    static let allowedFastLimit = 64

    func peer(_ peer: PeerConnection, sent message: PeerMessage) {
        guard peer.handshakeDone else { return }
        switch message {
        case .keepAlive, .suggest:
            break
        case let .port(port):
            if port != 0 { dhtNodeHeard?(peer.host, port) }
        case let .allowedFast(index):
            let piece = Int(index)
            guard peer.supportsFast else { return roster.misbehaved(peer, "allowed-fast without the fast extension") }
            guard piece < layout.pieceCount else { return roster.misbehaved(peer, "allowed-fast for piece \(index) of \(layout.pieceCount)") }
            guard peer.allowedFast.count < Self.allowedFastLimit else { return }
            peer.allowedFast.insert(piece)
            if peer.peerChoking { scheduler.fill(peer) }
        case .choke:
            logger.trace("choked", metadata: ["peer": "\(peer.address)"])
            peer.peerChoking = true
            if !peer.supportsFast { scheduler.releaseAll(of: peer, sendCancel: false) }
        case .unchoke:
            logger.trace("unchoked", metadata: ["peer": "\(peer.address)"])
            peer.peerChoking = false
            scheduler.fill(peer)
        case .interested:
            peer.peerInterested = true
            uploader.considerUnchoking(peer)
        case .notInterested:
            peer.peerInterested = false
            uploader.choke(peer)
        case let .have(index):
            let piece = Int(index)
            guard piece < layout.pieceCount else { return roster.misbehaved(peer, "have for piece \(index) of \(layout.pieceCount)") }
            guard !peer.isSeed, !peer.pieces[piece] else { return }
            peer.pieces[piece] = true
            picker.peerHasPiece(piece)
            if !peer.amInterested && !picker.hasPiece(piece) { setInterested(peer, true) }
            scheduler.fill(peer)
        case let .bitfield(bytes):
            logger.trace("bitfield", metadata: ["peer": "\(peer.address)"])
            acceptPieceSummary(from: peer)
            do {
                let bitfield = try Bitfield(wireBytes: bytes.readableBytesView, count: layout.pieceCount)
                peer.pieces = bitfield
                picker.peerAdded(bitfield: bitfield)
                updateInterest(peer)
            } catch {
                return roster.misbehaved(peer, "invalid bitfield of \(bytes.readableBytes) bytes: \(error)")
            }
        case .haveAll:
            logger.trace("have-all", metadata: ["peer": "\(peer.address)"])
            acceptPieceSummary(from: peer)
            peer.isSeed = true
            picker.seedAdded()
            updateInterest(peer)
        case .haveNone:
            acceptPieceSummary(from: peer)
            updateInterest(peer)
        case let .request(request):
            uploader.serveRequest(request, to: peer)
        case let .cancel(request):
            uploader.cancel(request, from: peer)
        case let .reject(request):
            logger.trace("request rejected", metadata: ["peer": "\(peer.address)", "piece": "\(request.piece)", "begin": "\(request.begin)"])
            scheduler.rejected(BlockSpec(piece: Int(request.piece), begin: Int(request.begin), length: Int(request.length)),
                               by: peer)
        case let .piece(index, begin, block):
            blockArrived(from: peer, piece: Int(index), begin: Int(begin), block: block)
        case let .extended(id, payload):
            self.peer(peer, sentExtended: id, payload: payload)
        }
    }

    /// A `bitfield`, `have-all` or `have-none` states everything the peer has: it replaces what
    /// the peer said before (some clients send `have-none` and then a bitfield), so availability
    /// never counts a peer twice.
    private func acceptPieceSummary(from peer: PeerConnection) {
        if peer.isSeed {
            peer.isSeed = false
            picker.seedRemoved()
        } else if peer.pieces.setCount > 0 {
            picker.peerRemoved(bitfield: peer.pieces)
        }
        peer.pieces = Bitfield(count: layout.pieceCount)
    }

    private func updateInterest(_ peer: PeerConnection) {
        let wants = peer.isSeed ? !picker.isComplete : picker.wantsAnything(from: peer.pieces)
        setInterested(peer, wants)
        scheduler.fill(peer)
    }

    func setInterested(_ peer: PeerConnection, _ interested: Bool) {
        guard peer.amInterested != interested else { return }
        peer.amInterested = interested
        peer.send(interested ? .interested : .notInterested)
        peer.flush()
    }
}
