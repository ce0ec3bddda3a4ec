import NIOCore
import SwarmMetainfo
import SwarmWire

/// BEP 11 peer exchange (`ut_pex`): peers tell each other whom they are connected to.
///
/// We send each peer that speaks it at most one message a minute: the peers we are connected to
/// that it has not heard of from us (at most 50) and those it heard of that are gone (at most
/// 50). Peers it names join the directory like a tracker's, under the same cap. Private
/// torrents (BEP 27) neither offer nor use it: a peer that sends it anyway is ignored.
extension Foreman {
    /// The least time between two messages to one peer (BEP 11: about once a minute).
    static let peerExchangeInterval = TimeAmount.seconds(60)
    /// The first message goes out soon after the extension handshake (libtorrent's too: a
    /// newcomer learns the swarm at once), once the connection has lasted a moment.
    static let firstPeerExchangeDelay = TimeAmount.seconds(3)

    /// The peer's extension handshake arrived: its first exchange is due shortly.
    func peerExchangeHandshakeArrived(_ peer: PeerConnection) {
        if peer.pexNextAt == nil { peer.pexNextAt = clock.now + Self.firstPeerExchangeDelay }
    }

    /// A `ut_pex` message: the added addresses are new candidates. Malformed ones break the protocol.
    func peerExchangeArrived(from peer: PeerConnection, payload: ByteBuffer) {
        guard !metainfo.isPrivate else { return }
        let message: PexMessage
        do {
            message = try PexMessage(decoding: payload)
        } catch {
            return roster.misbehaved(peer, "\(error)")
        }
        guard !message.added.isEmpty else { return }
        logger.debug("peers exchanged", metadata: ["peer": "\(peer.address)", "added": "\(message.added.count)"])
        addPeerAddresses(message.added.map { (host: $0.address.host, port: $0.address.port) })
    }

    /// Sends the peers whose minute is up what changed since their last message (every tick).
    func exchangePeers(now: NIODeadline) {
        guard !metainfo.isPrivate else { return }
        var current: [PeerAddress: UInt8]?
        for peer in peers.values {
            guard let id = peer.theirPexID, let due = peer.pexNextAt, due <= now else { continue }
            peer.pexNextAt = now + Self.peerExchangeInterval
            if current == nil { current = exchangeableAddresses() }
            sendPeerExchange(to: peer, id: id, current: current ?? [:])
        }
    }

    /// The addresses of our peers others can dial, with their BEP 11 flags: outbound peers at
    /// the address we dialled, incoming ones at their host and the port their handshake named.
    private func exchangeableAddresses() -> [PeerAddress: UInt8] {
        var addresses: [PeerAddress: UInt8] = [:]
        for peer in peers.values {
            let port = peer.isOutbound ? peer.port : peer.theirListenPort
            guard let port, port != 0 else { continue }
            var flags: UInt8 = peer.isOutbound ? PexMessage.AddedPeer.reachable : 0
            if peer.isSeed || peer.pieces.isComplete { flags |= PexMessage.AddedPeer.seed }
            addresses[PeerAddress(host: peer.host, port: port)] = flags
        }
        return addresses
    }

    private func sendPeerExchange(to peer: PeerConnection, id: UInt8, current: [PeerAddress: UInt8]) {
        let itself = peer.isOutbound ? peer.port.map { PeerAddress(host: peer.host, port: $0) } : nil
        let limit = PexMessage.maxPeersPerMessage
        let added = current.keys.filter { $0 != itself && !peer.pexSent.contains($0) }
            .sorted { $0.description < $1.description }.prefix(limit)
        let dropped = peer.pexSent.filter { current[$0] == nil }.sorted { $0.description < $1.description }.prefix(limit)
        guard !added.isEmpty || !dropped.isEmpty else { return }
        let message = PexMessage(added: added.map { PexMessage.AddedPeer(address: $0, flags: current[$0] ?? 0) },
                                 dropped: Array(dropped))
        guard let payload = try? message.encoded() else { return }
        peer.pexSent.formUnion(added)
        peer.pexSent.subtract(dropped)
        peer.send(.extended(id: id, payload: payload))
        peer.flush()
    }
}
