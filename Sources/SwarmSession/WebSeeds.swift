import AsyncHTTPClient
import Logging
import NIOCore
import SwarmMetainfo
import SwarmPieces
import SwarmWire

/// The torrent's web seeds (BEP 19: the torrent's `url-list`, a magnet's `ws`): each one, while
/// the torrent is incomplete, is a `WebSeedPeer` on a local pipe that the Foreman sees as a seed
/// peer. Owned by the Foreman, on its loop.
///
/// Invariants: at most one pipe per web seed; a seed whose pipe ended without delivering waits
/// before the next attempt (10 s, doubling up to 10 minutes; one that delivered is tried again
/// after 2 s); a seed the roster banned (its data failed the hash check) is never tried again;
/// nothing starts after the Foreman stopped or once every piece is verified.
final class WebSeeds {
    private struct Seed {
        let location: WebSeedLocation
        /// The name bans and logs know it by ("web-seed-N": never a real host).
        let host: String
        let peerID: PeerID
        var open = false
        /// The torrent-side worker's key while the pipe is open.
        var key: PeerKey?
        var failures = 0
        var retryAt = NIODeadline.uptimeNanoseconds(0)
    }

    private unowned let foreman: Foreman
    private var seeds: [Seed]
    private let client: HTTPClient

    static let firstRetry = TimeAmount.seconds(10)
    static let longestRetry = TimeAmount.minutes(10)
    /// The most web seeds used (a torrent may list hundreds of mirrors).
    static let maxSeeds = 8

    init(foreman: Foreman, urls: [String], client: HTTPClient = WebSeedHTTPClient.shared) {
        self.foreman = foreman
        self.client = client
        var seen = Set<String>()
        var seeds: [Seed] = []
        for url in urls where seen.insert(url).inserted {
            guard let location = WebSeedLocation(url: url) else {
                foreman.logger.info("web seed ignored: not an http(s) URL", metadata: ["url": "\(url.prefix(200))"])
                continue
            }
            guard seeds.count < Self.maxSeeds else { break }
            seeds.append(Seed(location: location, host: "web-seed-\(seeds.count)",
                              peerID: PeerID(bytes: Array("-SF01WS-".utf8) + (0..<12).map { _ in UInt8.random(in: 0...255) })!))
        }
        self.seeds = seeds
    }

    var isEmpty: Bool { seeds.isEmpty }

    /// Opens a pipe to each seed that is due (call on the Foreman's tick and at start).
    func connectDue(now: NIODeadline) {
        guard !foreman.stopped, !foreman.picker.isComplete else { return }
        for index in seeds.indices where !seeds[index].open && now >= seeds[index].retryAt
            && !foreman.roster.directory.isBanned(host: seeds[index].host) {
            open(index)
        }
    }

    private func open(_ index: Int) {
        seeds[index].open = true
        let key = foreman.roster.makePeerKey()
        seeds[index].key = key
        let seed = seeds[index]
        let loop = foreman.eventLoop
        let foreman = NIOLoopBound(self.foreman, eventLoop: loop)
        let manager = NIOLoopBound(self, eventLoop: loop)
        let client = self.client
        foreman.value.logger.debug("web seed starting", metadata: ["url": "\(seed.location)"])
        LocalPeerPipe.open(on: loop, near: { channel in
            try PeerConnection.install(on: channel, foreman: foreman.value, key: key, host: seed.host,
                                       address: seed.location.url, isOutbound: true)
        }, far: { channel in
            let pieceCount = foreman.value.layout.pieceCount
            let peer = WebSeedPeer(location: seed.location, metainfo: foreman.value.metainfo, peerID: seed.peerID,
                                   client: client, logger: foreman.value.logger) { delivered, failure in
                manager.value.ended(index, delivered: delivered, failure: failure)
            }
            try channel.pipeline.syncOperations.addHandlers([
                ByteToMessageHandler(PeerWireDecoder(limits: .limits(pieceCount: pieceCount))),
                PeerWireOutboundHandler(),
                peer,
            ])
        }).whenFailure { error in
            manager.value.ended(index, delivered: 0, failure: .transport(url: seed.location.url, detail: "\(error)"))
        }
    }

    /// Closes every pipe (the torrent is complete: web seeds have nothing more to give).
    func closeAll() {
        for seed in seeds {
            if let key = seed.key { foreman.peers[key]?.close() }
        }
    }

    private func ended(_ index: Int, delivered: Int64, failure: WebSeedError?) {
        guard seeds.indices.contains(index), seeds[index].open else { return }
        seeds[index].open = false
        seeds[index].key = nil
        let now = foreman.clock.now
        if delivered > 0 {
            seeds[index].failures = 0
            seeds[index].retryAt = now + .seconds(2)
        } else {
            let shift = min(seeds[index].failures, 6)
            seeds[index].failures += 1
            seeds[index].retryAt = now + min(Self.longestRetry, Self.firstRetry * Int64(1 << shift))
        }
        if let failure, !foreman.stopped {
            foreman.logger.warning("web seed failed", metadata: ["url": "\(seeds[index].location)", "error": "\(failure)",
                                                                 "retryInSeconds": "\((seeds[index].retryAt - now).nanoseconds / 1_000_000_000)"])
        }
    }
}
