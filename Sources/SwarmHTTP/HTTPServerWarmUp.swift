import NIOCore
import NIOPosix

/// One request the server makes to itself as it starts (`HEAD /`), so that the first client's
/// request does not pay for what a process does once: the first connection's pipeline set-up,
/// the HTTP codec's and handler's first use, the time zone read for `Date`. On a fresh mount of a
/// complete cache the first request took 2.7-8 ms to its first 64 KiB where the next took 0.3 ms
/// (strace: 1 ms in the first pipeline's set-up alone); `Benchmarks/http`'s first byte from a
/// swarm went from 0.57x to 0.94x of the FUSE mount's in the same run. Fire and forget: a
/// failure only leaves that cost to the first client.
enum HTTPServerWarmUp {
    static func run(on group: EventLoopGroup, to address: SocketAddress?) {
        guard var address else { return }
        // A server on "any address" is reached on loopback.
        if address.ipAddress == "0.0.0.0", let loopback = try? SocketAddress(ipAddress: "127.0.0.1", port: address.port ?? 0) {
            address = loopback
        } else if address.ipAddress == "::", let loopback = try? SocketAddress(ipAddress: "::1", port: address.port ?? 0) {
            address = loopback
        }
        ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Discard()) }
            }
            .connect(to: address)
            .whenSuccess { channel in
                var request = channel.allocator.buffer(capacity: 64)
                request.writeString("HEAD / HTTP/1.1\r\nHost: warm-up\r\nConnection: close\r\n\r\n")
                channel.writeAndFlush(request, promise: nil)
                // The server closes after its answer; never wait long for it.
                channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
            }
    }

    /// Reads and drops the answer.
    private final class Discard: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }
}
