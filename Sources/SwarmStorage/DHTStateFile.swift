/// The DHT routing tables' state files in the cache root (one per machine user, shared by every
/// torrent as the engine's DHT nodes are): ROOT/.swarmfs/dht.state for the IPv4 node and
/// ROOT/.swarmfs/dht6.state for the IPv6 one (BEP 32: two DHTs, two tables). Opened like every
/// state file (no symlink followed, regular files only), replaced atomically.
public enum DHTStateFile {
    /// The file's name in ROOT/.swarmfs/ for the IPv4 table, or the IPv6 one.
    public static func name(ipv6: Bool) -> String {
        ipv6 ? "dht6.state" : "dht.state"
    }

    /// The saved state, at most `limit` bytes (nil when absent or unreadable: a new table then).
    public static func load(root: String, ipv6: Bool = false, limit: Int) -> [UInt8]? {
        StateDirectory.read(root, name(ipv6: ipv6), limit: limit)
    }

    /// Saves `bytes` atomically (not fsynced: losing the table costs one bootstrap).
    public static func save(root: String, ipv6: Bool = false, bytes: [UInt8]) throws(StorageError) {
        try StateDirectory.writeAtomically(root, name(ipv6: ipv6), bytes: bytes, durable: false)
    }

    /// The path, for messages.
    public static func path(root: String, ipv6: Bool = false) -> String {
        StateDirectory.path(root) + "/" + name(ipv6: ipv6)
    }
}
