import SwarmMetainfo

/// What a tracker answered.
public struct AnnounceResponse: Sendable, Hashable {
    /// How long to wait before the next regular announce.
    public var interval: Duration
    /// The tracker's floor for any announce (`min interval`), if it gave one.
    public var minInterval: Duration?
    /// Peers, IPv4 and IPv6, de-duplicated, in the order the tracker gave them.
    public var peers: [PeerAddress]
    /// An id to send back in later announces (`tracker id`).
    public var trackerID: String?
    /// A warning to log (`warning message`); the announce still succeeded.
    public var warning: String?
    /// Peers with the whole torrent (`complete` / UDP seeders).
    public var seeders: Int?
    /// Peers still downloading (`incomplete` / UDP leechers).
    public var leechers: Int?

    /// Creates a response.
    public init(
        interval: Duration, minInterval: Duration? = nil, peers: [PeerAddress], trackerID: String? = nil,
        warning: String? = nil, seeders: Int? = nil, leechers: Int? = nil
    ) {
        self.interval = interval
        self.minInterval = minInterval
        self.peers = peers
        self.trackerID = trackerID
        self.warning = warning
        self.seeders = seeders
        self.leechers = leechers
    }
}
