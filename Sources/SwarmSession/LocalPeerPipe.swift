import Glibc
import NIOCore
import NIOPosix

/// Two channels on one event loop joined by a local stream socket pair, for a peer that lives in
/// this process (a web seed): the torrent's ordinary peer pipeline on one end, the peer's
/// own on the other. Bytes cross the kernel once each way; closing either end closes the other.
enum LocalPeerPipe {
    /// Opens the pair: `near` installs its handlers on one end, `far` on the other.
    static func open(on eventLoop: EventLoop, near: @escaping @Sendable (Channel) throws -> Void,
                     far: @escaping @Sendable (Channel) throws -> Void) -> EventLoopFuture<Void> {
        var descriptors: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &descriptors) == 0 else {
            return eventLoop.makeFailedFuture(IOError(errnoCode: errno, reason: "socketpair"))
        }
        let nearChannel = ClientBootstrap(group: eventLoop)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try near(channel) } }
            .withConnectedSocket(descriptors[0])
        let farChannel = ClientBootstrap(group: eventLoop)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try far(channel) } }
            .withConnectedSocket(descriptors[1])
        // A failed end takes the other with it (a channel that failed to come up closed its
        // descriptor; the other one's peer is then gone and it reads end-of-file).
        return nearChannel.and(farChannel).map { _ in () }
    }
}
