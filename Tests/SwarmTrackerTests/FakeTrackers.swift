import NIOCore
import NIOPosix
import SwarmMetainfo
import Synchronization
@testable import SwarmTracker

/// A scriptable BEP 15 tracker on a loopback UDP socket, recording what it receives.
final class FakeUDPTracker: Sendable {
    enum Behaviour: Sendable {
        /// Never answers (counts datagrams).
        case silent
        /// Answers connect and announce; announce replies carry `peers`.
        case answer(peers: [PeerAddress], interval: UInt32)
        /// Answers connect, then an error action to announce.
        case error(String)
        /// Like `answer`, but every reply is preceded by a decoy with a wrong transaction id.
        case answerAfterDecoy(peers: [PeerAddress], interval: UInt32)
    }

    struct Stats: Sendable {
        var datagrams = 0
        var connects = 0
        var announces = 0
        var events: [UInt32] = []
        var arrivals: [ContinuousClock.Instant] = []
    }

    /// `Stats` behind a lock, shared by the test and the channel handler.
    final class LockedStats: Sendable {
        private let mutex = Mutex(Stats())
        func withLock<Result>(_ body: (inout Stats) -> Result) -> Result {
            mutex.withLock { body(&$0) }
        }
    }

    let channel: any Channel
    let stats: LockedStats
    let port: Int

    init(behaviour: Behaviour, group: any EventLoopGroup) async throws {
        let stats = LockedStats()
        channel = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(behaviour: behaviour, stats: stats))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.stats = stats
        port = channel.localAddress?.port ?? 0
    }

    var url: String { "udp://127.0.0.1:\(port)/announce" }

    func close() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>

        let behaviour: Behaviour
        let stats: LockedStats
        private let connectionID: UInt64 = 0x5EED_5EED_0000_0001

        init(behaviour: Behaviour, stats: LockedStats) {
            self.behaviour = behaviour
            self.stats = stats
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            var packet = envelope.data
            stats.withLock {
                $0.datagrams += 1
                $0.arrivals.append(.now)
            }
            guard case .silent = behaviour else {
                guard let (connection, action, transaction) = packet.readMultipleIntegers(as: (UInt64, UInt32, UInt32).self) else { return }
                var reply = context.channel.allocator.buffer(capacity: 64)
                if action == 0 && connection == UDPTrackerPacket.protocolID {
                    stats.withLock { $0.connects += 1 }
                    reply.writeMultipleIntegers(UInt32(0), transaction, connectionID)
                } else if action == 1 && connection == connectionID {
                    let event = packet.getInteger(at: packet.readerIndex + 64, as: UInt32.self) ?? 99
                    stats.withLock {
                        $0.announces += 1
                        $0.events.append(event)
                    }
                    switch behaviour {
                    case let .answer(peers, interval), let .answerAfterDecoy(peers, interval):
                        reply.writeMultipleIntegers(UInt32(1), transaction, interval, UInt32(1), UInt32(2))
                        for peer in peers {
                            reply.writeBytes(peer.host.split(separator: ".").compactMap { UInt8($0) })
                            reply.writeInteger(peer.port)
                        }
                    case let .error(message):
                        reply.writeMultipleIntegers(UInt32(3), transaction)
                        reply.writeString(message)
                    case .silent:
                        return
                    }
                    if case .answerAfterDecoy = behaviour {
                        var decoy = context.channel.allocator.buffer(capacity: 28)
                        decoy.writeMultipleIntegers(UInt32(1), transaction &+ 1, UInt32(5), UInt32(0), UInt32(0))
                        decoy.writeBytes([10, 6, 6, 6, 0, 66])
                        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: decoy)), promise: nil)
                    }
                } else {
                    reply.writeMultipleIntegers(UInt32(3), transaction)
                    reply.writeString("bad connection id")
                }
                context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
                return
            }
        }
    }
}

/// A TCP server that answers every connection with canned raw bytes (or nothing), for HTTP
/// trackers that misbehave.
final class FakeHTTPServer: Sendable {
    enum Behaviour: Sendable {
        /// Reads the request and never answers.
        case silent
        /// Sends a status line and headers, then `bodyBytes` of `x` in 64 KiB writes, then closes.
        case stream(head: String, bodyBytes: Int)
        /// Answers every request with `200 OK` and this body, then closes.
        case answer(body: [UInt8])
    }

    let channel: any Channel
    let port: Int

    init(behaviour: Behaviour, group: any EventLoopGroup) async throws {
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(behaviour: behaviour))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    var url: String { "http://127.0.0.1:\(port)/announce" }

    func close() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let behaviour: Behaviour
        private var answered = false

        init(behaviour: Behaviour) {
            self.behaviour = behaviour
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if !answered, case let .answer(body) = behaviour {
                answered = true
                let head = "HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
                context.write(wrapOutboundOut(ByteBuffer(string: head)), promise: nil)
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: body)), promise: nil)
                context.close(promise: nil)
                return
            }
            guard !answered, case let .stream(head, bodyBytes) = behaviour else { return }
            answered = true
            context.write(wrapOutboundOut(ByteBuffer(string: head)), promise: nil)
            let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
            var remaining = bodyBytes
            while remaining > 0 {
                let size = min(remaining, chunk.readableBytes)
                context.write(wrapOutboundOut(chunk.getSlice(at: 0, length: size) ?? chunk), promise: nil)
                remaining -= size
            }
            context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: nil)
            context.close(promise: nil)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
