import NIOCore
import NIOPosix

/// A TCP connection to a peer, as `PeerDialer` makes it (its TCP leg): a 3 s connect timeout, no
/// Nagle, bounded socket reads, leaving from the configured address ("0.0.0.0": any), and the
/// owner's pipeline installed on the new channel.
enum PeerDialing {
    /// A plain TCP connection with the owner's pipeline.
    static func connect(on eventLoop: EventLoop, from connectFromHost: String, to candidate: PeerDirectory.Candidate,
                        install: @escaping @Sendable (Channel) throws -> Void) -> EventLoopFuture<Channel> {
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(3))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.recvAllocator, value: PeerRoster.receiveBuffers)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try install(channel) }
            }
        if connectFromHost != "0.0.0.0", let local = try? SocketAddress(ipAddress: connectFromHost, port: 0) {
            bootstrap = bootstrap.bind(to: local)
        }
        return bootstrap.connect(host: candidate.host, port: Int(candidate.port))
    }
}
