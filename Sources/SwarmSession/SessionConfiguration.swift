/// What the swarm fills in besides what readers ask for.
public enum DownloadMode: String, Sendable, CaseIterable {
    /// After what readers need, the rest of the torrent downloads in order (the default).
    case all
    /// Only what is read, plus each reader's readahead window.
    case onDemand = "on-demand"
}

/// How a `TorrentSession` runs. Defaults suit a desktop user streaming one torrent.
public struct SessionConfiguration: Sendable {
    /// Where the torrent's files and `.swarmfs/` state live (the torrent's own layout).
    public var cacheDirectory: String
    public var downloadMode: DownloadMode = .all
    /// Peers to connect to directly, as "host:port", besides what trackers return.
    public var peers: [String] = []
    /// The most peer connections at once.
    public var maxPeers: Int = 50
    /// The TCP port to accept peers on; nil picks a free one in 6881–6889 (or any).
    public var listenPort: UInt16?
    /// The address to listen on ("0.0.0.0" by default; tests give each client its own 127.0.0.x).
    public var listenHost: String = "0.0.0.0"
    /// Answer a read with an error when its pieces take longer than this; nil waits forever.
    public var readTimeout: Duration?
    /// Keep the cache's disk use under this many bytes by evicting cold pieces (nil: no limit).
    public var cacheSizeLimit: Int64?
    /// Whether to serve pieces to other peers.
    public var uploadEnabled: Bool = true
    /// Upload limit in bytes per second (0: none).
    public var maxUploadRate: Int64 = 0
    /// Download limit in bytes per second (0: none).
    public var maxDownloadRate: Int64 = 0
    /// Bytes of piece buffers held in memory at once; bounds pieces in flight. 16 MiB in flight
    /// is 50 ms at 300 MB/s, or 300 ms at 50 MB/s: deep enough for loopback and the Internet.
    public var pieceMemoryBudget: Int = 16 * 1024 * 1024
    /// Whether to contact the torrent's trackers.
    public var useTrackers: Bool = true
    /// How often verified pieces are made durable and recorded for resume.
    public var checkpointInterval: Duration = .seconds(5)

    public init(cacheDirectory: String) {
        self.cacheDirectory = cacheDirectory
    }
}
