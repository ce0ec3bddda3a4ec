#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import SwarmUTP

/// uTP (BEP 29) on the engine's UDP socket: drives each `UTPConnection` from the datagrams the
/// demultiplexer routes here and from a timer, and presents each connection to the rest of the
/// engine as an ordinary NIO `Channel` (one end of a local socket pair, see `UTPStream`), so the
/// peer pipeline, the handshake router and the rate limits are the ones TCP peers get. The copy
/// through the pair costs a little CPU (see the README's uTP figures), and keeps uTP out of
/// every other file.
///
/// Invariants: everything but `init`/`start` runs on the engine's loop; a stream is in `streams`
/// from its SYN (sent or received) until its connection closes; at most `maxStreams` exist.
final class UTPService: Sendable {
    private let socket: EngineUDPSocket
    private let eventLoop: EventLoop
    private let logger: Logger
    private let state: NIOLoopBound<State>
    private let epoch = NIODeadline.now()

    /// How often connections are ticked (timeouts): well under the 500 ms minimum timeout.
    static let tickInterval = TimeAmount.milliseconds(20)
    /// Connections at once, both directions (each holds up to 2 MiB of buffers).
    static let maxStreams = 512
    /// Every connection's settings: over IPv4, path MTU discovery up to a 1500-byte frame (IPv4
    /// routers fragment what they must, so only a probe goes with don't-fragment); over IPv6 the
    /// packets stay at the size every path carries (routers there never fragment, and a probe's
    /// resend would need the "packet too big" answer that firewalls often eat).
    private let connectionSettings: UTPConnectionSettings

    final class State {
        var streams: [UTPStream.Key: UTPStream] = [:]
        var ticker: RepeatedTask?
        /// Incoming connections' channels: the engine installs its handshake router on each.
        var accept: (@Sendable (Channel, SocketAddress) -> Void)?
        var random = SystemRandomNumberGenerator()
        var figures = Figures()
        /// Streams that heard datagrams in the current batch of reads: served (acks, bytes to
        /// the pipeline) once at its end.
        var touched: [UTPStream] = []
    }

    /// Counters for the log (debug when a connection closes, info at stop).
    struct Figures {
        var opened = 0
        var accepted = 0
        var failedConnects = 0
        var datagramsIn = 0
        var datagramsOut = 0
        var retransmissions = 0
    }

    init(socket: EngineUDPSocket, logger: Logger) async throws(SessionError) {
        self.socket = socket
        eventLoop = socket.eventLoop
        self.logger = logger
        var settings = UTPConnectionSettings()
        if !socket.isIPv6 { settings.maximumPayloadSize = UTPConnectionSettings.ipv4FramePayloadSize }
        connectionSettings = settings
        let loop = eventLoop
        do {
            state = try await loop.submit { NIOLoopBound(State(), eventLoop: loop) }.get()
        } catch {
            throw .shutDown
        }
    }

    /// Starts receiving; `accept` gets each incoming connection's channel (nil: refuse them).
    func start(accept: (@Sendable (Channel, SocketAddress) -> Void)?) async {
        let state = self.state
        try? await eventLoop.submit {
            state.value.accept = accept
            self.socket.setUTPRoute({ buffer, source in self.receive(buffer, from: source) },
                                    readComplete: { self.readComplete() })
            state.value.ticker = self.eventLoop.scheduleRepeatedTask(initialDelay: Self.tickInterval,
                                                                     delay: Self.tickInterval) { _ in self.tick() }
        }.get()
    }

    /// Microseconds on the service's clock.
    func now() -> UInt64 {
        UInt64((NIODeadline.now() - epoch).nanoseconds / 1000) + 1
    }

    // MARK: - Connecting

    /// Opens a uTP connection to `host`:`port` from the engine's UDP socket; once it is up, the
    /// channel is made, `install` sets up its pipeline, and the future completes with it. Fails
    /// when the peer does not answer the SYNs (about 1.5 s) or resets.
    func connect(host: String, port: UInt16, install: @escaping @Sendable (Channel) throws -> Void) -> EventLoopFuture<Channel> {
        eventLoop.preconditionInEventLoop()
        let promise = eventLoop.makePromise(of: Channel.self)
        // A peer of the other address family than our socket's is for TCP, at once.
        guard let address = try? SocketAddress(ipAddress: host, port: Int(port)),
              address.protocol == (socket.isIPv6 ? .inet6 : .inet) else {
            promise.fail(UTPError.badAddress(host))
            return promise.futureResult
        }
        let state = self.state.value
        guard state.streams.count < Self.maxStreams else {
            promise.fail(UTPError.tooManyConnections)
            return promise.futureResult
        }
        var id = UInt16.random(in: .min ... .max, using: &state.random)
        while state.streams[UTPStream.Key(address: address, receiveID: id)] != nil
                || state.streams[UTPStream.Key(address: address, receiveID: id &+ 1)] != nil {
            id &+= 2
        }
        let connection = UTPConnection.connect(receiveID: id, sequence: .random(in: .min ... .max, using: &state.random),
                                               now: now(), settings: connectionSettings)
        let stream = UTPStream(key: UTPStream.Key(address: address, receiveID: id), connection: connection)
        stream.dialed = promise
        stream.install = install
        state.streams[stream.key] = stream
        state.figures.opened += 1
        sendDatagrams(of: stream)
        flush()
        return promise.futureResult
    }

    // MARK: - Datagrams

    private func receive(_ buffer: ByteBuffer, from address: SocketAddress) {
        guard let packet = try? UTPPacket.parse(buffer.readableBytesView) else { return }
        let state = self.state.value
        state.figures.datagramsIn += 1
        let time = now()
        if packet.kind == .syn {
            let key = UTPStream.Key(address: address, receiveID: packet.connectionID &+ 1)
            if let stream = state.streams[key] {
                stream.connection.receive(packet, now: time)
                return touch(stream)
            }
            return acceptSYN(packet, from: address, key: key, now: time)
        }
        guard let stream = state.streams[UTPStream.Key(address: address, receiveID: packet.connectionID)] else {
            // Not ours (any more): tell the sender, so it stops at once rather than timing out.
            if packet.kind != .reset {
                let reset = UTPPacket(kind: .reset, connectionID: packet.connectionID, timestamp: UInt32(truncatingIfNeeded: time),
                                      sequenceNumber: 0, ackNumber: packet.sequenceNumber)
                socket.write(reset.encoded, to: address)
                state.figures.datagramsOut += 1
            }
            return
        }
        stream.connection.receive(packet, now: time)
        touch(stream)
    }

    private func touch(_ stream: UTPStream) {
        guard !stream.touched else { return }
        stream.touched = true
        state.value.touched.append(stream)
    }

    /// The end of a batch of reads: each stream that heard something acks it and moves its bytes.
    private func readComplete() {
        let touched = state.value.touched
        state.value.touched.removeAll(keepingCapacity: true)
        let time = now()
        for stream in touched {
            stream.touched = false
            stream.connection.sendDeferredAck(now: time)
            serve(stream)
        }
        flush()
    }

    private func acceptSYN(_ syn: UTPPacket, from address: SocketAddress, key: UTPStream.Key, now time: UInt64) {
        let state = self.state.value
        guard let accept = state.accept, state.streams.count < Self.maxStreams else {
            let reset = UTPPacket(kind: .reset, connectionID: syn.connectionID, timestamp: UInt32(truncatingIfNeeded: time),
                                  sequenceNumber: 0, ackNumber: syn.sequenceNumber)
            socket.write(reset.encoded, to: address)
            return
        }
        let connection = UTPConnection.accept(syn, sequence: .random(in: .min ... .max, using: &state.random), now: time,
                                              settings: connectionSettings)
        let stream = UTPStream(key: key, connection: connection)
        state.streams[key] = stream
        state.figures.accepted += 1
        sendDatagrams(of: stream)
        openChannel(for: stream) { channel in accept(channel, address) }
    }

    /// Sends what the connection has queued (flushed at the end of the read batch or by the caller).
    func sendDatagrams(of stream: UTPStream) {
        let datagrams = stream.connection.takeDatagrams()
        guard !datagrams.isEmpty else { return }
        for datagram in datagrams {
            if datagram.dontFragment {
                if !socket.sendUnfragmented(datagram.bytes, to: stream.key.address) {
                    stream.connection.pathProbeWentFragmentable()
                }
            } else {
                socket.write(datagram.bytes, to: stream.key.address)
            }
        }
        state.value.figures.datagramsOut += datagrams.count
    }

    func flush() {
        socket.flush()
    }

    /// After anything happened to a stream: its datagrams out, its bytes on, its end if it ended.
    func serve(_ stream: UTPStream) {
        guard !stream.removed else { return }
        let time = now()
        if stream.connection.state == .connected, stream.pump == nil, stream.dialed != nil {
            openChannel(for: stream) { _ in }
        }
        stream.drainPending(now: time)
        stream.toApp(now: time)
        sendDatagrams(of: stream)
        if stream.connection.state == .closed || (stream.appFinished && stream.connection.finishAcknowledged) {
            remove(stream)
        }
    }

    private func remove(_ stream: UTPStream) {
        stream.removed = true
        let state = self.state.value
        state.streams[stream.key] = nil
        state.figures.retransmissions += stream.connection.retransmissions
        if stream.connection.state != .closed { stream.connection.abort(now: now()); sendDatagrams(of: stream) }
        if let dialed = stream.dialed {
            stream.dialed = nil
            state.figures.failedConnects += 1
            dialed.fail(UTPError.closed(stream.connection.closeReason))
        }
        stream.pump?.close(promise: nil)
        logger.trace("uTP connection closed", metadata: ["peer": "\(stream.key.address)",
                                                        "reason": "\(stream.connection.closeReason.map { "\($0)" } ?? "ours")",
                                                        "retransmissions": "\(stream.connection.retransmissions)"])
    }

    private func tick() {
        let time = now()
        for stream in Array(state.value.streams.values) {
            stream.connection.tick(now: time)
            serve(stream)
        }
        flush()
    }

    // MARK: - The channel

    /// Makes the socket pair, the pump on our end, and the peer's channel on the other; `opened`
    /// hears the peer's channel (after `install` for an outgoing one).
    private func openChannel(for stream: UTPStream, opened: @escaping (Channel) -> Void) {
        let service = self
        let bound = NIOLoopBound(stream, eventLoop: eventLoop)
        let boundOpened = NIOLoopBound(opened, eventLoop: eventLoop)
        let install = stream.install
        stream.install = nil
        LocalPeerPipe.open(on: eventLoop, near: { channel in
            try channel.pipeline.syncOperations.addHandler(UTPPumpHandler(stream: bound.value, service: service))
        }, nearOptions: { bootstrap in
            bootstrap
                .channelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 65536,
                                                                                                  maximum: 256 * 1024))
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        }, far: { channel in
            try install?(channel)
        }, farOptions: { bootstrap in
            bootstrap
                .channelOption(ChannelOptions.recvAllocator, value: PeerRoster.receiveBuffers)
                .channelOption(ChannelOptions.writeBufferWaterMark, value: UTPStream.peerWaterMark)
        }).whenComplete { result in
            let stream = bound.value
            switch result {
            case let .success((pump, peer)):
                stream.pump = pump
                if stream.removed {
                    pump.close(promise: nil)
                    peer.close(promise: nil)
                    return
                }
                if let dialed = stream.dialed {
                    stream.dialed = nil
                    dialed.succeed(peer)
                }
                boundOpened.value(peer)
                service.serve(stream)
                service.flush()
            case let .failure(error):
                service.logger.debug("cannot open a uTP connection's channel", metadata: ["error": "\(error)"])
                if let dialed = stream.dialed {
                    stream.dialed = nil
                    dialed.fail(error)
                }
                stream.connection.abort(now: service.now())
                service.serve(stream)
                service.flush()
            }
        }
    }

    /// Resets every connection and stops the timer (the engine closes the socket after).
    func stop() async {
        let state = self.state
        try? await eventLoop.submit {
            state.value.ticker?.cancel()
            state.value.accept = nil
            for stream in Array(state.value.streams.values) {
                stream.connection.abort(now: self.now())
                self.serve(stream)
            }
            self.flush()
            let figures = state.value.figures
            self.logger.info("uTP stopped", metadata: [
                "opened": "\(figures.opened)", "accepted": "\(figures.accepted)", "failedConnects": "\(figures.failedConnects)",
                "datagramsIn": "\(figures.datagramsIn)", "datagramsOut": "\(figures.datagramsOut)",
                "retransmissions": "\(figures.retransmissions)"])
        }.get()
    }
}

/// Why a uTP connect failed.
enum UTPError: Error, CustomStringConvertible {
    case badAddress(String)
    case tooManyConnections
    case closed(UTPConnection.CloseReason?)

    var description: String {
        switch self {
        case let .badAddress(host): "uTP: not an address of our UDP socket's family: \(host)"
        case .tooManyConnections: "uTP: too many connections"
        case let .closed(reason): "uTP connection closed (\(reason.map { "\($0)" } ?? "by us"))"
        }
    }
}
