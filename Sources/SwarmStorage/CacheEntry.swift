/// One torrent in the cache root, as `swarmfs cache list` shows it.
public struct CacheEntry: Sendable, Equatable {
    /// The torrent's cache directory (root/<info-hash hex>).
    public var directory: String
    /// The info-hash in lowercase hex (the directory's name).
    public var infoHash: String
    /// The torrent's name, from the stored copy of the .torrent (nil if missing or unreadable).
    public var name: String?
    /// Real disk use of the whole directory (allocated blocks), state included.
    public var allocatedBytes: Int64
    /// Pieces in the torrent (nil when the .torrent copy is missing).
    public var pieceCount: Int?
    /// Pieces the resume record claims verified (nil without a valid record).
    public var verifiedPieces: Int?
    /// When the torrent was last used, in seconds since the epoch.
    public var lastUsed: Int64
    /// Whether a swarmfs process holds the directory's lock right now.
    public var inUse: Bool

    /// Fraction of verified pieces, 0...1 (0 when unknown).
    public var completion: Double {
        guard let pieceCount, pieceCount > 0, let verifiedPieces else { return 0 }
        return Double(verifiedPieces) / Double(pieceCount)
    }
}
