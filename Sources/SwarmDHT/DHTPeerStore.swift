import SwarmMetainfo

/// The peers other nodes announced to us (`announce_peer`), by info-hash, for answering
/// `get_peers`. Anyone can announce anything, so everything is bounded and expires.
///
/// Invariants: at most `maxInfoHashes` info-hashes, at most `maxPeersPerInfoHash` peers each;
/// a peer is dropped `lifetime` after its last announce (on the next `purge` or insertion).
public struct DHTPeerStore: Sendable {
    /// Info-hashes held at once.
    public let maxInfoHashes: Int
    /// Peers held per info-hash.
    public let maxPeersPerInfoHash: Int
    /// How long an announce counts (BEP 5 leaves it open; libtorrent keeps 30 minutes).
    public let lifetime: Duration
    private var peers: [InfoHash: [PeerAddress: ContinuousClock.Instant]] = [:]

    /// An empty store with these bounds.
    public init(maxInfoHashes: Int = 1000, maxPeersPerInfoHash: Int = 200, lifetime: Duration = .seconds(30 * 60)) {
        self.maxInfoHashes = max(1, maxInfoHashes)
        self.maxPeersPerInfoHash = max(1, maxPeersPerInfoHash)
        self.lifetime = lifetime
    }

    /// The number of info-hashes with peers.
    public var infoHashCount: Int { peers.count }

    /// Records `peer` for `infoHash` at `now`. A full list gives up its stalest peer; when the
    /// store holds `maxInfoHashes` others, a new info-hash is refused (false).
    @discardableResult
    public mutating func add(_ peer: PeerAddress, for infoHash: InfoHash, now: ContinuousClock.Instant) -> Bool {
        if peers[infoHash] == nil {
            if peers.count >= maxInfoHashes { purge(now: now) }
            guard peers.count < maxInfoHashes else { return false }
        }
        var list = peers[infoHash, default: [:]]
        if list[peer] == nil, list.count >= maxPeersPerInfoHash,
           let stalest = list.min(by: { $0.value < $1.value })?.key {
            list[stalest] = nil
        }
        list[peer] = now
        peers[infoHash] = list
        return true
    }

    /// Up to `limit` live peers of `infoHash`, in no particular order.
    public func peers(for infoHash: InfoHash, limit: Int, now: ContinuousClock.Instant) -> [PeerAddress] {
        guard let list = peers[infoHash] else { return [] }
        return Array(list.lazy.filter { now - $0.value < lifetime }.map(\.key).prefix(max(0, limit)))
    }

    /// Drops every expired peer, and info-hashes left with none.
    public mutating func purge(now: ContinuousClock.Instant) {
        for (infoHash, list) in peers {
            let live = list.filter { now - $0.value < lifetime }
            peers[infoHash] = live.isEmpty ? nil : live
        }
    }
}
