/// The DHT routing table's state file, ROOT/.swarmfs/dht.state in the cache root (one per
/// machine user, shared by every torrent as the engine's DHT node is). Opened like every state
/// file (no symlink followed, regular files only), replaced atomically.
public enum DHTStateFile {
    /// The file's name in ROOT/.swarmfs/.
    public static let name = "dht.state"

    /// The saved state, at most `limit` bytes (nil when absent or unreadable: a new table then).
    public static func load(root: String, limit: Int) -> [UInt8]? {
        StateDirectory.read(root, name, limit: limit)
    }

    /// Saves `bytes` atomically (not fsynced: losing the table costs one bootstrap).
    public static func save(root: String, bytes: [UInt8]) throws(StorageError) {
        try StateDirectory.writeAtomically(root, name, bytes: bytes, durable: false)
    }

    /// The path, for messages.
    public static func path(root: String) -> String {
        StateDirectory.path(root) + "/" + name
    }
}
