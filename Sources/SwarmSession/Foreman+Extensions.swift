import NIOCore
import SwarmMetainfo
import SwarmWire

/// The BEP 10 extension protocol on a torrent's connections: our extension handshake, the
/// peer's (its `m` ids, `reqq`, listening port, `metadata_size`), and the extensions we speak:
/// BEP 9 `ut_metadata` (we serve the info dictionary to peers that came from a magnet link,
/// and reject for private torrents, as BEP 27 asks) and BEP 11 `ut_pex` (`Foreman+PeerExchange`).
extension Foreman {
    /// Our extension handshake: the extensions we speak with the ids we want them sent with, our
    /// client name, request queue and listening port, and the size of our info dictionary
    /// (peers fetching metadata from us need it; a private torrent's is never offered).
    func ourExtensionHandshake() -> ExtensionHandshake {
        let isPrivate = metainfo.isPrivate
        return ExtensionHandshake(m: OurExtensionID.dictionary(isPrivate: isPrivate), clientName: "swarmfs", reqq: 500,
                                  listenPort: listenPort == 0 ? nil : listenPort,
                                  metadataSize: isPrivate ? nil : metainfo.rawInfo.count)
    }

    /// An `extended` message from `peer`: id 0 is its handshake, others are the ids we gave our
    /// extensions. A malformed handshake or extension message breaks the protocol; an id we
    /// never offered is ignored (BEP 10: a peer may send messages for extensions it thinks we
    /// have, and a stale id after a new handshake of ours must not close the link).
    func peer(_ peer: PeerConnection, sentExtended id: UInt8, payload: ByteBuffer) {
        switch id {
        case 0:
            let theirs: ExtensionHandshake
            do {
                theirs = try ExtensionHandshake(decoding: payload)
            } catch {
                return roster.misbehaved(peer, "\(error)")
            }
            if let reqq = theirs.reqq { peer.peerRequestQueueLimit = max(1, min(reqq, 2048)) }
            peer.theirMetadataID = theirs.messageID(for: ExtensionHandshake.metadataExtension)
            peer.theirPexID = theirs.messageID(for: ExtensionHandshake.pexExtension)
            if let port = theirs.listenPort { peer.theirListenPort = port }
            peerExchangeHandshakeArrived(peer)
        case OurExtensionID.metadata:
            let message: MetadataMessage?
            do {
                message = try MetadataMessage.decode(payload)
            } catch {
                return roster.misbehaved(peer, "\(error)")
            }
            if case let .request(piece) = message { serveMetadata(piece: piece, to: peer) }
        case OurExtensionID.pex:
            peerExchangeArrived(from: peer, payload: payload)
        default:
            break
        }
    }

    /// Answers a `ut_metadata` request with the piece of our info dictionary, or a reject for a
    /// private torrent or a piece past the end.
    private func serveMetadata(piece: Int, to peer: PeerConnection) {
        guard let theirs = peer.theirMetadataID else { return }
        let raw = metainfo.rawInfo
        let reply: MetadataMessage
        if !metainfo.isPrivate, let layout = try? MetadataLayout(totalSize: Int64(raw.count)),
           let range = layout.range(ofPiece: piece) {
            reply = .data(piece: piece, totalSize: raw.count, block: ByteBuffer(bytes: raw[range]))
        } else {
            reply = .reject(piece: piece)
        }
        peer.send(.extended(id: theirs, payload: reply.encoded()))
        peer.flush()
    }
}
