import Synchronization

/// A catalog that is empty until its torrent is known: a magnet link's mount serves HTTP from
/// the start (the page lists nothing yet, a file URL is 404) and shows the torrent once its
/// metadata arrived.
public final class DeferredCatalog: HTTPCatalog {
    private let catalog = Mutex<(any HTTPCatalog)?>(nil)

    public init() {}

    /// The catalog to serve from now on.
    public func fill(with newCatalog: any HTTPCatalog) {
        catalog.withLock { $0 = newCatalog }
    }

    public func torrents() -> [HTTPTorrent] {
        catalog.withLock { $0 }?.torrents() ?? []
    }

    public func torrent(_ infoHash: String) -> HTTPTorrent? {
        catalog.withLock { $0 }?.torrent(infoHash)
    }
}
