import Logging
import NIOCore
import SwarmMetainfo

/// A magnet link's torrent, once its info dictionary arrived and matched the info-hash.
public struct FetchedMetadata: Sendable {
    /// The torrent: the fetched info dictionary, with the magnet link's trackers.
    public let metainfo: Metainfo
    /// Peers that sent pieces of the dictionary: they have the torrent (dial them first).
    public let peers: [PeerAddress]
}

/// A magnet link's trackers as announce tiers: each its own tier, as libtorrent does (BEP 12
/// tries the tiers in turn; one dead tracker then cannot hide the others).
extension MagnetLink {
    public var trackerTiers: [[String]] { trackers.filter { !$0.isEmpty }.map { [$0] } }
}

extension SwarmEngine {
    /// Fetches the info dictionary `magnet` names from the swarm (BEP 9): from the peers in the
    /// link (`x.pe`) and `peers` ("host:port"), its trackers when `useTrackers`, and what peer
    /// exchange turns up. Runs until it has a dictionary whose SHA-1 is the info-hash, or the
    /// calling task is cancelled (`.shutDown`); give it a deadline by cancelling.
    public func fetchMetadata(_ magnet: MagnetLink, peers: [String], useTrackers: Bool,
                              logger: Logger) async throws(SessionError) -> FetchedMetadata {
        let addresses = magnet.peerAddresses.map { (host: $0.host, port: $0.port) } + (try TorrentSession.parsePeers(peers))
        let fetch: NIOLoopBound<MetadataFetch>
        let result: EventLoopFuture<[UInt8]>
        let (loop, peerID, port, dialer) = (eventLoop, self.peerID, listenPort, self.dialer)
        do {
            (fetch, result) = try await loop.submit {
                let fetch = MetadataFetch(infoHash: magnet.infoHash, ourPeerID: peerID, eventLoop: loop,
                                          dialer: dialer.value, listenPort: port, logger: logger)
                fetch.start()
                fetch.addPeerAddresses(addresses)
                return (NIOLoopBound(fetch, eventLoop: loop), fetch.result)
            }.get()
        } catch {
            throw .shutDown
        }
        var announcer: Announcer?
        let tiers = magnet.trackerTiers
        if useTrackers, !tiers.isEmpty {
            announcer = Announcer(infoHash: magnet.infoHash, trackers: tiers, peerID: peerID, port: port, group: group,
                                  subject: MetadataAnnounceSubject(fetch: fetch, eventLoop: loop,
                                                                   left: magnet.exactLength ?? 16 * 1024),
                                  logger: logger)
            announcer?.start()
        }
        let dhtSearch = startDHTSearch(magnet.infoHash) { peers in fetch.value.addPeerAddresses(peers) }
        let outcome: Result<[UInt8], SessionError>
        do {
            let dictionary = try await withTaskCancellationHandler {
                try await result.get()
            } onCancel: {
                loop.execute { fetch.value.stop() }
            }
            outcome = .success(dictionary)
        } catch {
            outcome = .failure(.shutDown)
        }
        await announcer?.cancel()
        dhtSearch?.cancel()
        let dictionary = try outcome.get()
        let infoHash = magnet.infoHash
        let handover = metadataHandover
        let contributors = (try? await loop.submit { () -> [PeerAddress] in
            handover.value.park(fetch.value.handedOver, for: infoHash)
            return fetch.value.contributors
        }.get()) ?? []
        do {
            let metainfo = try Metainfo(infoDictionary: dictionary, trackers: tiers, webSeeds: magnet.webSeeds)
            return FetchedMetadata(metainfo: metainfo, peers: contributors)
        } catch {
            throw .badMetadata(infoHash: magnet.infoHash.hex, detail: "\(error)")
        }
    }
}

/// A magnet link in its metadata phase, as its announcer sees it: nothing uploaded or
/// downloaded, `left` the link's stated length (or a token amount: a tracker must not take us
/// for a seed and leave seeds out of its answer).
struct MetadataAnnounceSubject: AnnounceSubject {
    let fetch: NIOLoopBound<MetadataFetch>
    let eventLoop: EventLoop
    let left: Int64

    func announceFigures() async -> (uploaded: Int64, downloaded: Int64, left: Int64)? {
        let fetch = self.fetch
        let stopped = (try? await eventLoop.submit { fetch.value.stopped }.get()) ?? true
        return stopped ? nil : (0, 0, max(1, left))
    }

    func connectedPeerCount() async -> Int {
        let fetch = self.fetch
        return (try? await eventLoop.submit { fetch.value.connectedPeerCount }.get()) ?? 0
    }

    func found(_ peers: [(host: String, port: UInt16)]) {
        let fetch = self.fetch
        eventLoop.execute { fetch.value.addPeerAddresses(peers) }
    }
}
