import NIOCore
import SwarmMetainfo

extension SwarmEngine {
    /// Between lookups of a search that found nothing usable yet (a magnet's metadata phase).
    static let dhtSearchInterval = Duration.seconds(30)

    /// Looks `infoHash` up in the DHT again and again (every `dhtSearchInterval`) until the task
    /// is cancelled, handing every batch of new peers to `deliver` (on the engine's loop). For a
    /// magnet link before its metadata: we do not announce (we have nothing to serve yet). Nil
    /// when DHT is off.
    func startDHTSearch(_ infoHash: InfoHash,
                        deliver: @escaping @Sendable ([(host: String, port: UInt16)]) -> Void) -> Task<Void, Never>? {
        guard dhtPort != nil else { return nil }
        return Task {
            while !Task.isCancelled {
                await dhtLookup(infoHash, announcePort: nil) { peers in
                    deliver(peers.map { (host: $0.host, port: $0.port) })
                }
                try? await Task.sleep(for: Self.dhtSearchInterval)
            }
        }
    }
}
