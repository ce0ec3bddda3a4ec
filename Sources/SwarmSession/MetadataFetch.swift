import Logging
import NIOCore
import NIOPosix
import SwarmMetainfo
import SwarmPieces
import SwarmWire

/// The metadata phase of a magnet link (BEP 9): connects to the peers it learns of, asks those
/// that offer `ut_metadata` for the info dictionary's 16 KiB pieces — several peers at once, a
/// few requests each — and completes with the dictionary once its SHA-1 is the info-hash. It
/// also learns peers by peer exchange, so a magnet with one peer address finds the swarm.
///
/// Which size to believe: peers state `metadata_size` (at most 32 MiB, `ExtensionHandshake`).
/// The smallest stated size is fetched (a liar stating a huge size costs nothing while anyone
/// states less; one stating a tiny size fails the hash at once). A whole that fails the hash
/// is dropped: a peer that alone sent it is banned; when several did, each gets a strike and
/// from then on one peer at a time sends a whole (so the next failure names the liar).
///
/// Confined to the engine's event loop. Invariants:
/// - `peers` holds every live connection (handshake done or not); `connecting` counts dials in
///   flight; together they stay under `maxConnections`.
/// - Requests go only to peers whose stated size is the assembler's, that offered
///   `ut_metadata`, and, once a whole failed, only to `exclusive`, which states the
///   assembler's size (it is chosen again whenever the size changes or it leaves).
/// - `promise` completes exactly once: with the dictionary, or failed by `stop`.
/// - Nothing is dialled after `stopped`.
final class MetadataFetch {
    let infoHash: InfoHash
    let eventLoop: EventLoop
    private let logger: Logger
    private let clock: any ForemanClock
    private let ourHandshake: Handshake
    private let dialer: PeerDialer
    private let listenPort: UInt16
    private let directory = PeerDirectory(capacity: 1_000)
    private var peers: [PeerKey: MetadataPeer] = [:]
    private var connecting = 0
    private var nextKey: PeerKey = 0
    private var assembler: MetadataAssembler<PeerKey>?
    private var strikes: [String: Int] = [:]
    private var exclusive: PeerKey?
    private var afterFailure = false
    private let promise: EventLoopPromise<[UInt8]>
    private var tickTask: RepeatedTask?
    private(set) var stopped = false
    /// Addresses that sent us metadata pieces (the torrent dials them first).
    private(set) var contributors: [PeerAddress] = []
    /// Once complete: the connections worth handing to the torrent (see `MetadataHandover`).
    private(set) var handedOver: [MetadataPeer] = []
    /// When `assembler` times were taken from; `clock` times are mapped onto it.
    private let epoch = ContinuousClock.now

    /// Connections at once: enough to find a peer with the metadata quickly in a big swarm.
    static let maxConnections = 30
    static let handshakeTimeout = TimeAmount.seconds(10)
    /// A metadata request unanswered this long goes to another peer.
    static let requestTimeout = Duration.seconds(5)
    static let tickInterval = TimeAmount.milliseconds(250)

    init(infoHash: InfoHash, ourPeerID: PeerID, eventLoop: EventLoop, dialer: PeerDialer,
         listenPort: UInt16, logger: Logger, clock: any ForemanClock = SystemForemanClock()) {
        self.infoHash = infoHash
        self.eventLoop = eventLoop
        self.logger = logger
        self.clock = clock
        self.dialer = dialer
        self.listenPort = listenPort
        ourHandshake = Handshake.ours(infoHash: infoHash, peerID: ourPeerID)
        promise = eventLoop.makePromise(of: [UInt8].self)
    }

    /// Peers whose handshake arrived.
    var connectedPeerCount: Int { peers.values.count(where: \.handshakeDone) }

    /// Completes with the verified info dictionary.
    var result: EventLoopFuture<[UInt8]> { promise.futureResult }

    func start() {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        tickTask = eventLoop.scheduleRepeatedTask(initialDelay: Self.tickInterval, delay: Self.tickInterval) { _ in
            bound.value.tick()
        }
    }

    /// Stops fetching: connections close, the result fails (unless it completed).
    func stop() {
        guard !stopped else { return }
        stopped = true
        tickTask?.cancel()
        tickTask = nil
        for peer in peers.values { peer.close() }
        promise.fail(SessionError.shutDown)
    }

    /// Peer addresses from the magnet link, the command line, trackers, the DHT or PEX.
    func addPeerAddresses(_ addresses: [(host: String, port: UInt16)]) {
        guard !stopped else { return }
        for address in addresses { directory.add(host: address.host, port: address.port) }
        connectMore()
    }

    // MARK: - Connections

    private func connectMore() {
        let now = clock.now
        while !stopped, peers.count + connecting < Self.maxConnections, let candidate = directory.nextCandidate(now: now) {
            connect(to: candidate)
        }
    }

    private func connect(to candidate: PeerDirectory.Candidate) {
        connecting += 1
        nextKey &+= 1
        let key = nextKey
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let now = clock.now
        dialer.connect(on: eventLoop, to: candidate, handshake: ourHandshake) { channel in
            try MetadataPeer.install(on: channel, owner: bound.value, key: key, host: candidate.host,
                                     address: candidate.address, now: now)
        }.whenComplete { result in
            let fetch = bound.value
            fetch.connecting -= 1
            if case let .failure(error) = result {
                fetch.directory.failed(candidate.address, now: fetch.clock.now)
                fetch.logger.debug("cannot connect to peer", metadata: ["peer": "\(candidate.address)", "error": "\(error)"])
                fetch.connectMore()
            }
        }
    }

    func opened(_ peer: MetadataPeer) {
        guard !stopped else { return peer.close() }
        peers[peer.key] = peer
        peer.connectedAt = clock.now
        peer.sendHandshake(ourHandshake)
    }

    func closed(_ peer: MetadataPeer) {
        guard peers.removeValue(forKey: peer.key) != nil else { return }
        directory.disconnected(peer.address, wasUseful: false, now: clock.now)
        assembler?.peerGone(peer.key)
        if exclusive == peer.key { exclusive = nil }
        guard !stopped else { return }
        chooseSize()
        requestEverywhere()
        connectMore()
    }

    func peer(_ peer: MetadataPeer, failed reason: String, brokeProtocol: Bool) {
        logger.debug("metadata peer failed", metadata: ["peer": "\(peer.address)", "reason": "\(reason)"])
        if brokeProtocol, peer.handshakeDone { directory.ban(host: peer.host) }
    }

    func peer(_ peer: MetadataPeer, sentHandshake handshake: Handshake) {
        guard handshake.infoHash == infoHash, handshake.peerID != ourHandshake.peerID,
              handshake.supportsExtensionProtocol else {
            // Another torrent, ourselves, or a peer that cannot send metadata.
            if handshake.peerID == ourHandshake.peerID { directory.ban(peer.address) }
            return peer.close()
        }
        peer.handshakeDone = true
        directory.connected(peer.address)
        let ours = ExtensionHandshake(m: OurExtensionID.dictionary(isPrivate: false), clientName: "swarmfs", reqq: 500,
                                      listenPort: listenPort == 0 ? nil : listenPort)
        peer.send(.extended(id: 0, payload: ours.encoded()))
        if handshake.supportsFastExtension { peer.send(.haveNone) }
        // We will want pieces from whoever has them: said now, a peer that unchokes only on
        // `interested` (libtorrent unchokes a newcomer unasked) has done so by the time the
        // metadata is in, and the torrent that takes the connection over asks for blocks at once
        // instead of a round trip later. `swarmfs info` says it too, for nothing: harmless.
        peer.send(.interested)
        peer.saidInterested = true
        peer.flush()
    }

    func peer(_ peer: MetadataPeer, sentExtended id: UInt8, payload: ByteBuffer) {
        guard peer.handshakeDone, !stopped else { return }
        do throws(PeerWireError) {
            switch id {
            case 0:
                let theirs = try ExtensionHandshake(decoding: payload)
                peer.metadataID = theirs.messageID(for: ExtensionHandshake.metadataExtension)
                peer.pexID = theirs.messageID(for: ExtensionHandshake.pexExtension)
                peer.statedSize = theirs.metadataSize
                guard peer.metadataID != nil, peer.statedSize != nil else { return }
                chooseSize()
                request(from: peer)
            case OurExtensionID.metadata:
                guard let message = try MetadataMessage.decode(payload) else { return }
                metadataMessage(message, from: peer)
            case OurExtensionID.pex:
                let message = try PexMessage(decoding: payload)
                addPeerAddresses(message.added.map { (host: $0.address.host, port: $0.address.port) })
            default:
                break
            }
        } catch {
            misbehaved(peer, "\(error)")
        }
    }

    // MARK: - Metadata

    private func metadataMessage(_ message: MetadataMessage, from peer: MetadataPeer) {
        switch message {
        case let .request(piece):
            // We have nothing to give yet.
            if let id = peer.metadataID {
                peer.send(.extended(id: id, payload: MetadataMessage.reject(piece: piece).encoded()))
                peer.flush()
            }
        case let .reject(piece):
            assembler?.rejected(piece: Int64(piece), by: peer.key)
            requestEverywhere()
        case let .data(piece, totalSize, block):
            guard var assembler, totalSize == assembler.layout.totalSize,
                  assembler.outstandingPieces(at: peer.key).contains(piece) else {
                // An answer to a request of an assembler we replaced, or one that timed out.
                return
            }
            let progress: MetadataAssembler<PeerKey>.Progress
            do {
                progress = try assembler.received(piece: Int64(piece), totalSize: Int64(totalSize),
                                                  data: block.readableBytesView, from: peer.key)
            } catch {
                self.assembler = assembler
                return misbehaved(peer, "\(error)")
            }
            self.assembler = assembler
            if let address = PeerAddress(parsing: peer.address), !contributors.contains(address) {
                contributors.append(address)
            }
            switch progress {
            case .stored:
                request(from: peer)
            case let .complete(infoDictionary):
                finish(infoDictionary)
            case let .verificationFailed(guilty):
                verificationFailed(guilty)
            }
        }
    }

    /// Fetches the smallest size a live peer states, switching to a smaller one as soon as a
    /// peer states it (what arrived of a larger one is dropped): honest peers agree on the size,
    /// so a liar stating a huge one is never asked while anyone states less, and one stating a
    /// small one costs one small, failing fetch.
    private func chooseSize() {
        let sizes = peers.values.filter { $0.metadataID != nil }.compactMap(\.statedSize)
        guard let smallest = sizes.min() else { return }
        if assembler?.layout.totalSize == smallest { return }
        assembler = try? MetadataAssembler(infoHash: infoHash, totalSize: Int64(smallest), requestTimeout: Self.requestTimeout)
        // The one peer trusted with a whole was one stating the old size: choose again.
        exclusive = nil
        requestEverywhere()
    }

    private func requestEverywhere() {
        for peer in peers.values { request(from: peer) }
    }

    private func request(from peer: MetadataPeer) {
        guard let id = peer.metadataID, var assembler, peer.statedSize == assembler.layout.totalSize else { return }
        if afterFailure {
            if exclusive == nil { exclusive = peer.key }
            guard exclusive == peer.key else { return }
        }
        let pieces = assembler.requests(for: peer.key, now: instant(clock.now))
        self.assembler = assembler
        guard !pieces.isEmpty else { return }
        for piece in pieces {
            peer.send(.extended(id: id, payload: MetadataMessage.request(piece: piece).encoded()))
        }
        peer.flush()
    }

    private func verificationFailed(_ guilty: Set<PeerKey>) {
        logger.warning("metadata failed its hash check; fetching it again",
                       metadata: ["infoHash": "\(infoHash.hex)", "peers": "\(guilty.count)"])
        contributors = []
        afterFailure = true
        exclusive = nil
        for key in guilty {
            guard let peer = peers[key] else { continue }
            let count = (strikes[peer.host] ?? 0) + 1
            strikes[peer.host] = count
            if guilty.count == 1 || count >= 2 { misbehaved(peer, "sent metadata that failed the hash check") }
        }
        // Nothing of the failed whole is kept: the size may be chosen again.
        if let assembler, assembler.receivedCount == 0 { self.assembler = nil }
        chooseSize()
        requestEverywhere()
    }

    private func misbehaved(_ peer: MetadataPeer, _ what: String) {
        logger.warning("closing peer that broke the metadata exchange", metadata: ["peer": "\(peer.address)", "detail": "\(what)"])
        directory.ban(host: peer.host)
        peer.close()
    }

    private func finish(_ infoDictionary: [UInt8]) {
        logger.info("metadata received", metadata: ["infoHash": "\(infoHash.hex)", "bytes": "\(infoDictionary.count)"])
        stopped = true
        tickTask?.cancel()
        tickTask = nil
        // Connections whose handshake is done and whose peer said nothing we could not keep go
        // to the torrent; the rest close.
        for peer in peers.values {
            if peer.handshakeDone, peer.isOpen, peer.handshake != nil, peer.heard != nil {
                peer.parked = true
                handedOver.append(peer)
            } else {
                peer.close()
            }
        }
        promise.succeed(infoDictionary)
    }

    // MARK: - Time

    private func tick() {
        guard !stopped else { return }
        let now = clock.now
        for peer in peers.values where !peer.handshakeDone && now - peer.connectedAt > Self.handshakeTimeout {
            peer.close()
        }
        if var assembler {
            let expired = assembler.expireRequests(now: instant(now))
            self.assembler = assembler
            if !expired.isEmpty { requestEverywhere() }
        }
        connectMore()
    }

    private func instant(_ deadline: NIODeadline) -> ContinuousClock.Instant {
        epoch + .nanoseconds(Int64(clamping: deadline.uptimeNanoseconds))
    }
}
