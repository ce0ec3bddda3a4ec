import NIOCore
import SwarmMetainfo

/// Connections of magnets' metadata phases, handshakes done, waiting for their torrents: when a
/// magnet's dictionary is complete its connections are not closed and dialled again by the torrent
/// (two round trips, 160 ms at 40 ms one way, before the first request) but parked here, and the
/// torrent adopts them when it starts (`Foreman.adopt`). Owned by the engine, on its loop.
///
/// Invariants: a magnet's connections are here from the end of its metadata phase until its
/// torrent takes them or `keepFor` runs out (then they are closed); a second fetch of the same
/// torrent replaces (and closes) what the first left.
final class MetadataHandover {
    private var parked: [InfoHash: (peers: [MetadataPeer], expiry: Scheduled<Void>)] = [:]
    private let eventLoop: EventLoop

    /// How long parked connections wait for their torrent to start.
    static let keepFor = TimeAmount.seconds(15)

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Parks `peers` (already `parked`) for `infoHash`'s torrent.
    func park(_ peers: [MetadataPeer], for infoHash: InfoHash) {
        drop(infoHash)
        guard !peers.isEmpty else { return }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let expiry = eventLoop.scheduleTask(in: Self.keepFor) { bound.value.drop(infoHash) }
        parked[infoHash] = (peers, expiry)
    }

    /// The connections parked for `infoHash` (still open), now the caller's.
    func take(_ infoHash: InfoHash) -> [MetadataPeer] {
        guard let entry = parked.removeValue(forKey: infoHash) else { return [] }
        entry.expiry.cancel()
        return entry.peers.filter(\.isOpen)
    }

    /// Closes every parked connection (the engine stops).
    func closeAll() {
        for infoHash in Array(parked.keys) { drop(infoHash) }
    }

    private func drop(_ infoHash: InfoHash) {
        guard let entry = parked.removeValue(forKey: infoHash) else { return }
        entry.expiry.cancel()
        for peer in entry.peers { peer.close() }
    }
}
