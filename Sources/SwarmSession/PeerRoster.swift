import Logging
import NIOCore
import NIOPosix
import SwarmMetainfo
import SwarmPieces
import SwarmWire

/// The torrent's connections: the addresses we know of (`PeerDirectory`), connections being
/// dialled, connections waiting for their handshake, and peers that completed it, with the limit
/// on all of them (`--max-peers`), their deadlines and their bans. Owned by the Foreman and
/// confined to its loop; the Foreman hands it connection events and decides what a peer's
/// messages mean.
///
/// Invariants:
/// - A connection is in at most one of `handshaking` and `peers`; only `peers` completed the
///   handshake (`handshakeDone`), and only they hear about pieces or get requests.
/// - `peers.count + connecting + securing.count + handshaking.count` stays under `maxPeers`, counting the
///   connections the engine's router holds for us (`hasRoom(besides:)`); a connection past it is
///   closed at its handshake.
/// - At most one connection per remote peer id; never one to ourselves (that address is banned).
/// - `connecting` counts the dials whose outcome has not come back yet; a dial that connected
///   is in `securing` until its connection opens (an MSE handshake comes first) or closes.
/// - Nothing new is dialled or admitted once the Foreman is stopped.
final class PeerRoster {
    private unowned let foreman: Foreman
    /// Every address we know of, with back-off, and the banned hosts.
    let directory = PeerDirectory()
    private(set) var peers: [PeerKey: PeerConnection] = [:]
    /// Connections whose handshake has not arrived yet.
    private var handshaking: [PeerKey: PeerConnection] = [:]
    /// Dialled connections whose transport is up but whose peer connection has not opened: the
    /// MSE handshake holds it back for two round trips.
    private var securing: [PeerKey: Channel] = [:]
    private var connecting = 0
    private var nextPeerKey: PeerKey = 0
    /// Which misbehaving hosts were warned about lately: one warning per host, not one per reconnection.
    private var warnings = RepeatedWarnings()
    private let maxPeers: Int
    /// Our handshake; `Foreman.enableDHT` sets its DHT bit.
    var ourHandshake: Handshake
    /// The address outbound connections leave from ("0.0.0.0": any).
    private let dialer: PeerDialer

    /// How long a new connection may take to send its handshake.
    static let handshakeTimeout = TimeAmount.seconds(10)
    /// Silence after which we send a keep-alive (peers drop links quiet for two minutes).
    static let keepAliveInterval = TimeAmount.seconds(90)
    /// Silence after which we give up on a peer (BEP 3 peers send a keep-alive every two minutes).
    static let idleTimeout = TimeAmount.seconds(180)
    /// Socket reads of up to 256 KiB: fewer syscalls than 64 KiB, and not a megabyte per peer
    /// held while a read is decoded.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 16 * 1024, initial: 64 * 1024, maximum: 256 * 1024)

    init(foreman: Foreman, maxPeers: Int, dialer: PeerDialer) {
        self.foreman = foreman
        self.maxPeers = maxPeers
        self.dialer = dialer
        ourHandshake = Handshake.ours(infoHash: foreman.metainfo.infoHash, peerID: foreman.ourPeerID)
    }

    /// Nothing connected, nothing being connected.
    var isEmpty: Bool { peers.isEmpty && handshaking.isEmpty && securing.isEmpty && connecting == 0 }

    /// Connections up and on their way through the handshakes: peers that will most likely ask
    /// for blocks within a round trip or two.
    var joiningCount: Int { securing.count + handshaking.count }

    func makePeerKey() -> PeerKey {
        nextPeerKey &+= 1
        return nextPeerKey
    }

    // MARK: - Connections coming and going

    /// A TCP connection is up. Until its handshake arrives it counts against the connection limit
    /// and has `handshakeTimeout` to complete; an outbound one introduces itself first.
    func opened(_ peer: PeerConnection) {
        securing[peer.key] = nil
        handshaking[peer.key] = peer
        if peer.isOutbound { peer.sendHandshake(ourHandshake) }
    }

    /// The peer's handshake arrived: whether it joins the peers (answered with ours if it called
    /// us), or is closed (another torrent, ourselves, no room, a second connection).
    func admit(_ peer: PeerConnection, handshake: Handshake) -> Bool {
        handshaking[peer.key] = nil
        guard handshake.infoHash == ourHandshake.infoHash else {
            foreman.logger.info("peer sent a handshake for another torrent", metadata: ["peer": "\(peer.address)"])
            peer.close()
            return false
        }
        guard handshake.peerID != ourHandshake.peerID else {
            directory.ban(peer.address)
            peer.close()
            return false
        }
        guard !foreman.stopped, peers.count < maxPeers else {
            peer.close()
            return false
        }
        // One connection per peer: a peer we dialled may also dial our listening port (it learns
        // it from our extension handshake); the second connection would ask it for everything twice.
        guard !peers.values.contains(where: { $0.remotePeerID == handshake.peerID }) else {
            foreman.logger.debug("second connection to a connected peer closed", metadata: ["peer": "\(peer.address)"])
            peer.close()
            return false
        }
        if !peer.isOutbound { peer.sendHandshake(ourHandshake) }
        peer.handshakeDone = true
        peer.remotePeerID = handshake.peerID
        peer.supportsFast = handshake.supportsFastExtension
        peer.supportsExtensions = handshake.supportsExtensionProtocol
        peers[peer.key] = peer
        directory.connected(peer.address)
        foreman.logger.debug("peer connected", metadata: ["peer": "\(peer.address)", "outbound": "\(peer.isOutbound)"])
        return true
    }

    /// The connection closed: whether it was one of the peers (the Foreman then takes back what
    /// it held). The directory hears whether it was worth calling again soon.
    func closed(_ peer: PeerConnection) -> Bool {
        handshaking[peer.key] = nil
        guard peers.removeValue(forKey: peer.key) != nil else {
            directory.disconnected(peer.address, wasUseful: false, now: foreman.clock.now)
            return false
        }
        directory.disconnected(peer.address, wasUseful: peer.download.total > 0, now: foreman.clock.now)
        foreman.logger.debug("peer disconnected", metadata: ["peer": "\(peer.address)"])
        return true
    }

    /// Closes every connection (the Foreman stops).
    func closeAll() {
        for peer in peers.values { peer.close() }
        for peer in handshaking.values { peer.close() }
        for channel in securing.values { channel.close(promise: nil) }
    }

    // MARK: - Misbehaviour

    /// Closes a peer that broke the protocol and, once it had completed the handshake, bans its
    /// host: an incoming peer comes back from a new port every time, and is then refused at
    /// accept (`acceptsIncoming`). Bytes that are not a handshake only close the connection:
    /// clients such as aria2 open with an encrypted (MSE) handshake and retry in plaintext.
    func misbehaved(_ peer: PeerConnection, _ what: String) {
        let metadata: Logger.Metadata = ["peer": "\(peer.address)", "detail": "\(what)"]
        if warnings.shouldWarn(about: peer.host, now: foreman.clock.now) {
            foreman.logger.warning("closing peer that broke the protocol", metadata: metadata)
        } else {
            foreman.logger.debug("closing peer that broke the protocol (again)", metadata: metadata)
        }
        if peer.handshakeDone { directory.ban(host: peer.host) }
        peer.close()
    }

    /// The peers in `senders` sent the blocks of a piece that failed its hash check. A peer that
    /// alone sent two bad pieces, or took part in three, is lying or broken (one bad piece may be
    /// bad luck; libtorrent also bans on a score).
    func sentBadPiece(_ senders: Set<PeerKey>) {
        for key in senders {
            guard let peer = peers[key] else { continue }
            peer.hashFailures += 1
            if peer.hashFailures >= (senders.count == 1 ? 2 : 3) {
                misbehaved(peer, "sent data for \(peer.hashFailures) piece(s) that failed the hash check")
            }
        }
    }

    // MARK: - Dialling and accepting

    /// Dials known addresses while there is room. A complete torrent waits for leechers to come
    /// to us; it does not go looking.
    func connectMore() {
        guard !foreman.stopped, !foreman.picker.isComplete else { return }
        while peers.count + connecting + securing.count < maxPeers, let candidate = directory.nextCandidate(now: foreman.clock.now) {
            connect(to: candidate)
        }
    }

    private func connect(to candidate: PeerDirectory.Candidate) {
        connecting += 1
        let eventLoop = foreman.eventLoop
        let foreman = NIOLoopBound(self.foreman, eventLoop: eventLoop)
        let roster = NIOLoopBound(self, eventLoop: eventLoop)
        let key = makePeerKey()
        let securing: @Sendable (Channel) -> Void = { channel in
            eventLoop.execute {
                guard channel.isActive, roster.value.handshaking[key] == nil, roster.value.peers[key] == nil else { return }
                roster.value.securing[key] = channel
                channel.closeFuture.hop(to: eventLoop).whenComplete { _ in roster.value.securing[key] = nil }
            }
        }
        dialer.connect(on: eventLoop, to: candidate, handshake: ourHandshake, transportUp: securing) { channel in
            try PeerConnection.install(on: channel, foreman: foreman.value, key: key, host: candidate.host,
                                       address: candidate.address, isOutbound: true)
        }.whenComplete { result in
            let roster = roster.value
            roster.connecting -= 1
            if case let .failure(error) = result {
                roster.directory.failed(candidate.address, now: roster.foreman.clock.now)
                roster.foreman.logger.debug("cannot connect to peer", metadata: ["peer": "\(candidate.address)", "error": "\(error)"])
                roster.connectMore()
            }
        }
    }

    /// Accepts an incoming connection from `host` if there is room for it and the host is not banned.
    func acceptsIncoming(from host: String) -> Bool {
        guard !directory.isBanned(host: host) else {
            foreman.logger.trace("refused a connection from a banned host", metadata: ["host": "\(host)"])
            return false
        }
        return hasRoom(besides: 0)
    }

    /// Whether one more connection fits under `--max-peers` with `extra` others not yet counted
    /// (incoming connections the engine's router holds until they name a torrent).
    func hasRoom(besides extra: Int) -> Bool {
        !foreman.stopped && peers.count + connecting + securing.count + handshaking.count + extra < maxPeers
    }

    // MARK: - Deadlines

    /// Closes connections that never completed their handshake or went silent, and keeps quiet
    /// links alive.
    func checkTimeouts(now: NIODeadline) {
        for peer in handshaking.values where now - peer.connectedAt > Self.handshakeTimeout {
            foreman.logger.debug("peer sent no handshake in time", metadata: ["peer": "\(peer.address)"])
            handshaking[peer.key] = nil
            peer.close()
        }
        for peer in peers.values {
            if now - peer.lastReceivedAt > Self.idleTimeout {
                foreman.logger.debug("peer silent for too long", metadata: ["peer": "\(peer.address)"])
                peer.close()
            } else if now - peer.lastSentAt > Self.keepAliveInterval {
                peer.send(.keepAlive)
                peer.flush()
            }
        }
    }
}
