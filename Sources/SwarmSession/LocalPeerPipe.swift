import Glibc
import NIOCore
import NIOPosix

/// Two channels on one event loop joined by a local stream socket pair, for a peer connection
/// whose far side lives in this process: a uTP connection (its pump on one end, the peer
/// pipeline on the other) or a web seed (the torrent's worker on one end, the HTTP adapter on the
/// other). Bytes cross the kernel once each way; closing either end closes the other.
enum LocalPeerPipe {
    /// Channel options for one end (`{ $0 }`: none).
    typealias Configure = @Sendable (ClientBootstrap) -> ClientBootstrap

    /// Opens the pair: `near` and `far` install their handlers on their ends. If either end
    /// cannot come up, the other is closed and the future fails.
    static func open(on eventLoop: EventLoop,
                     near: @escaping @Sendable (Channel) throws -> Void, nearOptions: Configure = { $0 },
                     far: @escaping @Sendable (Channel) throws -> Void,
                     farOptions: Configure = { $0 }) -> EventLoopFuture<(near: Channel, far: Channel)> {
        var descriptors: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &descriptors) == 0 else {
            return eventLoop.makeFailedFuture(IOError(errnoCode: errno, reason: "socketpair"))
        }
        let nearChannel = nearOptions(ClientBootstrap(group: eventLoop))
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try near(channel) } }
            .withConnectedSocket(descriptors[0])
        let farChannel = farOptions(ClientBootstrap(group: eventLoop))
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try far(channel) } }
            .withConnectedSocket(descriptors[1])
        return nearChannel.and(farChannel).map { (near: $0.0, far: $0.1) }.flatMapErrorThrowing { error in
            nearChannel.whenSuccess { $0.close(promise: nil) }
            farChannel.whenSuccess { $0.close(promise: nil) }
            throw error
        }
    }
}
