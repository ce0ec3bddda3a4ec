/// What a `SwarmEngine` shares among all its torrents: where it listens, the global rate limits,
/// and the memory it may hold in piece buffers. Defaults suit a desktop user.
public struct EngineConfiguration: Sendable {
    /// Whether to accept incoming peer connections at all (a leecher that never uploads and was
    /// given no port need not).
    public var listens: Bool = true
    /// The TCP port to accept peers on; nil picks a free one in 6881–6889 (or any).
    public var listenPort: UInt16?
    /// The address to listen on and to connect from ("0.0.0.0": every address; tests give each
    /// client its own 127.0.0.x).
    public var listenHost: String = "0.0.0.0"
    /// Upload limit for all torrents together, in bytes per second (0: none).
    public var maxUploadRate: Int64 = 0
    /// Download limit for all torrents together, in bytes per second (0: none).
    public var maxDownloadRate: Int64 = 0
    /// Bytes of piece buffers held in memory at once, all torrents together; bounds pieces in
    /// flight. 16 MiB in flight is 50 ms at 300 MB/s, or 300 ms at 50 MB/s: deep enough for
    /// loopback and the Internet.
    public var pieceMemoryBudget: Int = 16 * 1024 * 1024
    /// Keep the disk use of all torrents' caches under this many bytes by evicting the least
    /// recently used pieces, whichever torrent holds them (nil: no limit).
    public var cacheSizeLimit: Int64?
    /// Connections that have not yet said which torrent they want, all torrents together; more are
    /// refused at once (a flood of idle sockets must not exhaust descriptors).
    public var maxHalfOpenIncoming: Int = 128
    /// BEP 14 local service discovery: announce public torrents to the LAN's multicast group and
    /// dial the peers announced there (only while listening: a port is what is announced).
    public var localDiscovery: Bool = true
    /// uTP (BEP 29) on the engine's UDP socket: peers are dialled over uTP first (TCP when that
    /// fails) and accepted over it. On by default, as in libtorrent.
    public var utp: Bool = true
    /// TCP peers, dialled and accepted. Off only to test uTP alone (`--no-tcp`).
    public var tcp: Bool = true
    /// The DHT node (BEP 5) on the engine's UDP socket; off unless enabled.
    public var dht = DHTConfiguration()
    /// Message Stream Encryption for peer connections, both ways (`--encryption`).
    public var encryption: PeerEncryptionPolicy = .prefer

    public init() {}
}
