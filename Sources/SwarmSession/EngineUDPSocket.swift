import NIOCore
import NIOPosix
import SwarmMetainfo

/// One of the engine's UDP sockets (one per address family, BEP 32), shared by that family's DHT
/// node (KRPC) and, on the first family's socket, uTP: it binds (the TCP listen port's number when
/// it is free, so peers reach both protocols on one port), sorts incoming datagrams to whichever
/// of the two is on (`DatagramDemultiplexer`), and sends for both. Exists when DHT or uTP is on.
///
/// Invariants: the routes are set and called on `eventLoop` only; after `close` nothing is
/// received or sent.
final class EngineUDPSocket: Sendable {
    /// The UDP port bound.
    let port: UInt16
    /// Whether the socket is IPv6 (IPv6 only); else IPv4.
    let isIPv6: Bool
    let eventLoop: EventLoop
    private let channel: Channel
    private let routes: NIOLoopBound<Routes>

    /// Where datagrams go; nil drops them.
    final class Routes {
        var krpc: ((ByteBuffer, PeerAddress) -> Void)?
        var utp: ((ByteBuffer, SocketAddress) -> Void)?
        /// The end of a batch of reads: the moment to flush what the datagrams made us send.
        var readComplete: (() -> Void)?
    }

    /// The largest datagram read whole. uTP peers send at most ~1500 bytes (Ethernet MTU) and
    /// KRPC at most ~1.5 KB; a datagram that fills the buffer may have been cut and is dropped.
    static let receiveCapacity = 8192

    private init(port: UInt16, isIPv6: Bool, eventLoop: EventLoop, channel: Channel, routes: NIOLoopBound<Routes>) {
        self.port = port
        self.isIPv6 = isIPv6
        self.eventLoop = eventLoop
        self.channel = channel
        self.routes = routes
    }

    /// Binds `host`:`preferredPort`, else any port; an IPv6 socket takes IPv6 only (IPv4 is the
    /// other socket's).
    static func bind(host: String, preferredPort: UInt16, ipv6: Bool,
                     eventLoop: EventLoop) async throws(SessionError) -> EngineUDPSocket {
        let routes: NIOLoopBound<Routes>
        do {
            routes = try await eventLoop.submit { NIOLoopBound(Routes(), eventLoop: eventLoop) }.get()
        } catch {
            throw .shutDown
        }
        let v6only = ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only)
        var bootstrap = DatagramBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: receiveCapacity))
            // uTP at tens of MB/s is thousands of datagrams a second: room for bursts.
            .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(ChannelOptions.socketOption(.so_sndbuf), value: 4 << 20)
            .channelOption(ChannelOptions.maxMessagesPerRead, value: 64)
        if ipv6 {
            bootstrap = bootstrap.channelOption(v6only, value: 1)
        } else {
            // Linux sets DF on UDP by default (IP_PMTUDISC_WANT) and then relies on ICMP "needs
            // fragmentation" answers, which some paths never send: a datagram above such a path's
            // MTU would vanish every time. Fragmentable, it crosses; uTP's path MTU probes are
            // the only datagrams sent with DF (`sendUnfragmented`).
            bootstrap = bootstrap.channelOption(mtuDiscovery, value: pmtuDont)
        }
        bootstrap = bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let demultiplexer = DatagramDemultiplexer(
                        krpc: { buffer, source in routes.value.krpc?(buffer, source) },
                        utp: { buffer, source in routes.value.utp?(buffer, source) },
                        readComplete: { routes.value.readComplete?() })
                    try channel.pipeline.syncOperations.addHandler(demultiplexer)
                }
            }
        var lastError = "no port tried"
        for port in preferredPort == 0 ? [0] : [Int(preferredPort), 0] {
            do {
                let channel = try await bootstrap.bind(host: host, port: port).get()
                guard let bound = channel.localAddress?.port.flatMap({ UInt16(exactly: $0) }) else {
                    try? await channel.close()
                    continue
                }
                return EngineUDPSocket(port: bound, isIPv6: ipv6, eventLoop: eventLoop, channel: channel, routes: routes)
            } catch {
                lastError = "\(error)"
            }
        }
        throw .listen(host: host, port: preferredPort, detail: "UDP socket: \(lastError)")
    }

    /// On the loop: where KRPC datagrams go.
    func setKRPCRoute(_ route: @escaping (ByteBuffer, PeerAddress) -> Void) {
        routes.value.krpc = route
    }

    /// On the loop: where uTP datagrams go, and who hears the end of each batch of reads.
    func setUTPRoute(_ route: @escaping (ByteBuffer, SocketAddress) -> Void, readComplete: @escaping () -> Void) {
        routes.value.utp = route
        routes.value.readComplete = readComplete
    }

    /// On the loop: queues a datagram (`flush` sends what is queued).
    func write(_ bytes: [UInt8], to destination: SocketAddress) {
        let buffer = channel.allocator.buffer(bytes: bytes)
        channel.write(AddressedEnvelope(remoteAddress: destination, data: buffer), promise: nil)
    }

    /// On the loop: sends the queued datagrams.
    func flush() {
        channel.flush()
    }

    /// On the loop: sends `bytes` at once with don't-fragment set (a path MTU probe); returns
    /// false when it could not be (an IPv6 socket, an option the kernel refused, or a socket
    /// backed up so that the datagram waits in NIO's queue and leaves after the option is back
    /// off). Everything else this socket sends may be fragmented (`bind` sets that), so only
    /// the probe can be lost for its size.
    func sendUnfragmented(_ bytes: [UInt8], to destination: SocketAddress) -> Bool {
        guard !isIPv6, let options = channel.syncOptions else {
            send(bytes, to: destination)
            return false
        }
        // What is queued leaves first, fragmentable.
        channel.flush()
        guard (try? options.setOption(Self.mtuDiscovery, value: Self.pmtuProbe)) != nil else {
            send(bytes, to: destination)
            return false
        }
        let sent = NIOLoopBoundBox(false, eventLoop: eventLoop)
        let envelope = AddressedEnvelope(remoteAddress: destination, data: channel.allocator.buffer(bytes: bytes))
        // A datagram too big for the interface fails at once (EMSGSIZE, which NIO gives to this
        // write only): it was still "sent" in the probe's sense, and is lost like a dropped one.
        channel.writeAndFlush(envelope).whenComplete { _ in sent.value = true }
        try? options.setOption(Self.mtuDiscovery, value: Self.pmtuDont)
        return sent.value
    }

    /// IP_MTU_DISCOVER and its values (linux/in.h): DONT sends without DF; PROBE sets DF and
    /// ignores the path MTU the kernel learnt (the probe is how we learn it).
    private static let mtuDiscovery = ChannelOptions.Types.SocketOption(level: .ip,
                                                                        name: .init(rawValue: 10))
    private static let pmtuDont: SocketOptionValue = 0
    private static let pmtuProbe: SocketOptionValue = 3

    /// On the loop: one datagram, sent at once.
    func send(_ bytes: [UInt8], to destination: SocketAddress) {
        write(bytes, to: destination)
        channel.flush()
    }

    /// Drops the routes and closes the socket.
    func close() async {
        let routes = self.routes
        try? await eventLoop.submit {
            routes.value.krpc = nil
            routes.value.utp = nil
            routes.value.readComplete = nil
        }.get()
        try? await channel.close()
    }
}
