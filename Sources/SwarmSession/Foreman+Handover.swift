import NIOCore
import SwarmMetainfo
import SwarmWire

/// Connections a magnet's metadata phase hands over (see `MetadataHandover`): the torrent takes
/// them as they are, handshakes done, instead of dialling their peers again.
extension Foreman {
    /// Each connection joins as if its peer's handshake had just arrived, then hears what the
    /// peer said meanwhile (its extension handshake, bitfield, haves, choking), in order. Call
    /// before the torrent's first addresses are added: an adopted address is not dialled again.
    func adopt(_ parked: [MetadataPeer]) {
        // The metadata phase told these peers we have nothing: a torrent that has pieces
        // already (its cache had them) dials afresh to say so with a bitfield.
        guard !stopped, verified.snapshot.setCount == 0 else {
            for peer in parked { peer.close() }
            return
        }
        for parkedPeer in parked {
            guard let handshake = parkedPeer.handshake, let heard = parkedPeer.heard,
                  let address = PeerAddress(parsing: parkedPeer.address) else {
                parkedPeer.close()
                continue
            }
            let extensionHandshake = parkedPeer.extensionHandshake
            guard let channel = parkedPeer.leavePipeline() else { continue }
            roster.directory.add(host: address.host, port: address.port)
            let peer: PeerConnection
            do {
                peer = try PeerConnection.install(on: channel, foreman: self, key: roster.makePeerKey(),
                                                  host: parkedPeer.host, address: parkedPeer.address, isOutbound: true,
                                                  pipelineReady: true)
            } catch {
                channel.close(promise: nil)
                continue
            }
            peer.amInterested = parkedPeer.saidInterested
            self.peer(peer, sentHandshake: handshake, alreadyIntroduced: true)
            guard peer.handshakeDone else { continue }
            if let extensionHandshake { self.peer(peer, sent: .extended(id: 0, payload: extensionHandshake)) }
            for message in heard { self.peer(peer, sent: message) }
            scheduler.fill(peer)
            peer.flush()
            logger.debug("peer taken over from the metadata phase", metadata: ["peer": "\(peer.address)"])
        }
    }
}
