import NIOCore
import SwarmMetainfo
import SwarmWire

/// How the engine reaches a peer: encrypted as the engine's policy says (`PeerEncryption`: MSE
/// over whichever transport wins, our handshake as its IA; under `prefer` a peer that drops the
/// encrypted attempt is remembered and dialled again in plaintext, once), over uTP first when it
/// is on, TCP as well when uTP has not connected within `tcpDelay` (`localTCPDelay` on the local
/// network; or failed sooner); the first connection up wins and the other is closed before it
/// says a word. That is libtorrent's order (uTP, then TCP) without its cost: a
/// TCP-only peer (aria2, many seedboxes) waits `tcpDelay`, not the whole uTP connect timeout
/// (1.5 s), and a uTP peer that answers within it never sees a TCP connect. It remembers per
/// address what won, so the next dial goes straight to it (TCP), or races again (uTP: it may
/// have gone). With one transport off, only the other.
///
/// Invariants: used on the engine's loop only; `preferred` holds at most `memoryLimit` addresses;
/// of the channels one dial opens, exactly one reaches the owner's pipeline (`DialRace`).
final class PeerDialer {
    enum Transport { case utp, tcp }

    /// The address outbound connections leave from ("0.0.0.0": any).
    let connectFromHost: String
    /// The `--encryption` policy every dial follows.
    let encryption: PeerEncryption
    private let utp: UTPService?
    private let tcp: Bool
    private var preferred: [String: Transport] = [:]
    static let memoryLimit = 4096
    /// How long uTP has alone before TCP joins the race: a loopback or LAN peer answers in far
    /// less; an Internet one usually does (the median round trip is well under 100 ms).
    static let tcpDelay = TimeAmount.milliseconds(250)
    /// The same for a peer on loopback or the local network, whose uTP answer comes in a
    /// millisecond if it comes at all (a local swarm of TCP-only peers: the first byte came 270 ms
    /// after the mount instead of 10 ms with the Internet's delay).
    static let localTCPDelay = TimeAmount.milliseconds(20)

    /// How long uTP has alone when dialling `host`.
    static func tcpDelay(dialling host: String) -> TimeAmount {
        IPAddress(text: host)?.isLocalNetwork == true ? localTCPDelay : tcpDelay
    }

    init(connectFromHost: String, utp: UTPService?, tcp: Bool,
         encryption: PeerEncryption = PeerEncryption(policy: .disable)) {
        self.connectFromHost = connectFromHost
        self.utp = utp
        self.tcp = tcp
        self.encryption = encryption
    }

    /// TCP only, from `connectFromHost`, plaintext (unit tests).
    static func tcpOnly(from connectFromHost: String) -> PeerDialer {
        PeerDialer(connectFromHost: connectFromHost, utp: nil, tcp: true)
    }

    /// Connects to `candidate` for the torrent `handshake` names and installs the owner's
    /// pipeline on the new channel. The future succeeds once that pipeline is active: after the
    /// MSE handshake when the connection is encrypted, which carries `handshake` as its IA (the
    /// owner's own first write, the same handshake, is then not sent again).
    ///
    /// `transportUp` hears of a connection whose MSE handshake is still to come, on the
    /// channel's loop, when its transport connects.
    func connect(on eventLoop: EventLoop, to candidate: PeerDirectory.Candidate, handshake: Handshake,
                 transportUp: @escaping @Sendable (Channel) -> Void = { _ in },
                 install: @escaping @Sendable (Channel) throws -> Void) -> EventLoopFuture<Channel> {
        guard let provide = encryption.methodsToOffer(dialling: candidate.address) else {
            return connectTransport(on: eventLoop, to: candidate, install: install)
        }
        var encoded = ByteBuffer()
        PeerWireEncoder.write(handshake, to: &encoded)
        let initialPayload = Array(encoded.readableBytesView)
        // Each leg of the race gets its own handler (a losing leg's fails when it is closed);
        // the winner's tells when the handshake is done.
        let dialled = connectTransport(on: eventLoop, to: candidate) { channel in
            let role = EncryptionHandler.Role.initiator(infoHash: handshake.infoHash, provide: provide,
                                                        initialPayload: initialPayload,
                                                        established: channel.eventLoop.makePromise(of: Void.self))
            try channel.pipeline.syncOperations.addHandler(EncryptionHandler(role: role))
            try install(channel)
        }
        let encryption = self.encryption
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        return dialled.flatMap { channel -> EventLoopFuture<Channel> in
            transportUp(channel)
            guard let handler = try? channel.pipeline.syncOperations.handler(type: EncryptionHandler.self),
                  let established = handler.established else {
                return channel.eventLoop.makeFailedFuture(EncryptionHandler.HandshakeFailed(reason: "the connection closed"))
            }
            return established.map { _ in channel }
        }.flatMapError { error in
            guard encryption.policy == .prefer, error is EncryptionHandler.HandshakeFailed else {
                return eventLoop.makeFailedFuture(error)
            }
            encryption.rememberPlaintext(candidate.address)
            return bound.value.connectTransport(on: eventLoop, to: candidate, install: install)
        }
    }

    /// The transport race (see above), the owner's pipeline (and its encryption) installed on
    /// each leg.
    private func connectTransport(on eventLoop: EventLoop, to candidate: PeerDirectory.Candidate,
                                  install: @escaping @Sendable (Channel) throws -> Void) -> EventLoopFuture<Channel> {
        let address = candidate.address
        guard let utp, preferred[address] != .tcp || !tcp else {
            return PeerDialing.connect(on: eventLoop, from: connectFromHost, to: candidate, install: install)
        }
        let race = NIOLoopBound(DialRace(promise: eventLoop.makePromise(of: Channel.self), legs: tcp ? 2 : 1),
                                eventLoop: eventLoop)
        let gated: @Sendable (Channel) throws -> Void = { channel in
            try channel.pipeline.syncOperations.addHandler(DialRaceGate(race: race.value))
            try install(channel)
        }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        utp.connect(host: candidate.host, port: candidate.port, install: gated).whenComplete { result in
            let dialer = bound.value
            if case .failure = result, dialer.tcp {
                dialer.startTCP(race: race, on: eventLoop, to: candidate, install: gated)
            }
            race.value.finished(result) { dialer.remember(address, .utp) }
        }
        if tcp {
            let timer = eventLoop.scheduleTask(in: Self.tcpDelay(dialling: candidate.host)) {
                if !race.value.decided { bound.value.startTCP(race: race, on: eventLoop, to: candidate, install: gated) }
            }
            race.value.promise.futureResult.whenComplete { _ in timer.cancel() }
        }
        return race.value.promise.futureResult
    }

    /// The race's TCP leg, once.
    private func startTCP(race: NIOLoopBound<DialRace>, on eventLoop: EventLoop, to candidate: PeerDirectory.Candidate,
                          install: @escaping @Sendable (Channel) throws -> Void) {
        guard !race.value.tcpStarted else { return }
        race.value.tcpStarted = true
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let address = candidate.address
        PeerDialing.connect(on: eventLoop, from: connectFromHost, to: candidate, install: install).whenComplete { result in
            race.value.finished(result) { bound.value.remember(address, .tcp) }
        }
    }

    private func remember(_ address: String, _ transport: Transport) {
        if preferred.count >= Self.memoryLimit, preferred[address] == nil { preferred.removeAll(keepingCapacity: true) }
        preferred[address] = transport
    }
}

/// One dial's legs (uTP, and TCP when it joins): the first channel up wins the race and
/// completes the promise; a later one is closed by its gate before the pipeline hears of it.
final class DialRace {
    let promise: EventLoopPromise<Channel>
    private var legs: Int
    private var failures = 0
    private(set) var winner: ObjectIdentifier?
    var tcpStarted = false
    var decided: Bool { winner != nil }

    init(promise: EventLoopPromise<Channel>, legs: Int) {
        self.promise = promise
        self.legs = legs
    }

    /// `channel` is up: whether it is (or now becomes) the winner.
    func claim(_ channel: Channel) -> Bool {
        if winner == nil {
            winner = ObjectIdentifier(channel)
            promise.succeed(channel)
            return true
        }
        return winner == ObjectIdentifier(channel)
    }

    /// A leg ended: a channel (claimed now, or closed if another won) or an error (the promise
    /// fails when every leg failed and none won).
    func finished(_ result: Result<Channel, Error>, won: () -> Void) {
        switch result {
        case let .success(channel):
            if claim(channel) { won() } else { channel.close(promise: nil) }
        case let .failure(error):
            failures += 1
            if failures >= legs, winner == nil { promise.fail(error) }
        }
    }
}

/// First on each raced channel: lets `channelActive` through to the pipeline only on the winner.
final class DialRaceGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let race: DialRace

    init(race: DialRace) {
        self.race = race
    }

    func channelActive(context: ChannelHandlerContext) {
        guard race.claim(context.channel) else {
            context.close(promise: nil)
            return
        }
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
