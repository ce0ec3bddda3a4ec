/// What the swarm fills in besides what readers ask for.
public enum DownloadMode: String, Sendable, CaseIterable {
    /// After what readers need, the rest of the torrent downloads in order (the default).
    case all
    /// Only what is read, plus each reader's readahead window.
    case onDemand = "on-demand"
}

/// How one torrent runs on its engine (what torrents share is in `EngineConfiguration`).
/// Defaults suit a desktop user streaming one torrent.
public struct SessionConfiguration: Sendable {
    /// Where the torrent's files and `.swarmfs/` state live (the torrent's own layout).
    public var cacheDirectory: String
    public var downloadMode: DownloadMode = .all
    /// Peers to connect to directly, as "host:port", besides what trackers return.
    public var peers: [String] = []
    /// The most peer connections at once.
    public var maxPeers: Int = 50
    /// Answer a read with an error when its pieces take longer than this; nil waits forever.
    public var readTimeout: Duration?
    /// Whether to serve pieces to other peers (and accept their connections for this torrent).
    public var uploadEnabled: Bool = true
    /// Whether to contact the torrent's trackers.
    public var useTrackers: Bool = true
    /// Whether to look the torrent up in the engine's DHT (when it runs one; never for a
    /// private torrent).
    public var useDHT: Bool = true
    /// Whether to download from the torrent's web seeds (BEP 19: `url-list`, a magnet's `ws`).
    public var useWebSeeds: Bool = true
    /// How often verified pieces are made durable and recorded for resume.
    public var checkpointInterval: Duration = .seconds(5)

    public init(cacheDirectory: String) {
        self.cacheDirectory = cacheDirectory
    }
}
