import NIOCore
import NIOPosix
import SwarmMetainfo
import SwarmWire

/// Dialling a peer, the one way the Foreman's roster and a magnet's metadata fetch both do it:
/// a 3 s connect timeout, no Nagle, bounded socket reads, leaving from the configured address
/// ("0.0.0.0": any), encrypted as the engine's policy says (see `PeerEncryption`), and the
/// owner's pipeline installed on the new channel.
enum PeerDialing {
    /// Connects to `candidate` for the torrent `handshake` names. The future succeeds once the
    /// owner's pipeline is active: after the MSE handshake when the connection is encrypted,
    /// which carries `handshake` as its IA (the owner's own first write, the same handshake, is
    /// then not sent again). Under `prefer`, a peer that drops the encrypted attempt is
    /// remembered and dialled again in plaintext, once.
    static func connect(on eventLoop: EventLoop, from connectFromHost: String, to candidate: PeerDirectory.Candidate,
                        handshake: Handshake, encryption: PeerEncryption,
                        install: @escaping @Sendable (Channel) throws -> Void) -> EventLoopFuture<Channel> {
        guard let provide = encryption.methodsToOffer(dialling: candidate.address) else {
            return connect(on: eventLoop, from: connectFromHost, to: candidate, install: install)
        }
        let established = eventLoop.makePromise(of: Void.self)
        var encoded = ByteBuffer()
        PeerWireEncoder.write(handshake, to: &encoded)
        let initialPayload = Array(encoded.readableBytesView)
        let dialled = connect(on: eventLoop, from: connectFromHost, to: candidate) { channel in
            let role = EncryptionHandler.Role.initiator(infoHash: handshake.infoHash, provide: provide,
                                                        initialPayload: initialPayload, established: established)
            try channel.pipeline.syncOperations.addHandler(EncryptionHandler(role: role))
            try install(channel)
        }
        dialled.whenFailure { established.fail($0) }
        return dialled.flatMap { channel in established.futureResult.map { channel } }.flatMapError { error in
            guard encryption.policy == .prefer, error is EncryptionHandler.HandshakeFailed else {
                return eventLoop.makeFailedFuture(error)
            }
            encryption.rememberPlaintext(candidate.address)
            return connect(on: eventLoop, from: connectFromHost, to: candidate, install: install)
        }
    }

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
