import NIOCore
import NIOEmbedded
import SwarmMetainfo
import SwarmMSE
import Testing
@testable import SwarmSession

/// The NIO side of MSE: two embedded channels, one dialling and one accepting, with the bytes
/// carried between them by hand.
@Suite("EncryptionHandler")
struct EncryptionHandlerTests {
    static let torrent = InfoHash(bytes: [UInt8](repeating: 0x42, count: 20))!

    /// What the pipeline behind the handler sees.
    final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var activated = false
        var inactive = false
        var received: [UInt8] = []
        func channelActive(context: ChannelHandlerContext) { activated = true }
        func channelInactive(context: ChannelHandlerContext) { inactive = true }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += unwrapInboundIn(data).readableBytesView
        }
    }

    static func incoming(allow: MSECryptoMethods?, plaintext: Bool) -> EncryptionHandler {
        EncryptionHandler(role: .incoming(allow: allow, plaintext: plaintext) { hash in
            hash == MSEHandshake.obfuscatedHash(of: torrent) ? torrent : nil
        })
    }

    /// Moves every pending outbound byte of `from` into `to`; whether anything moved.
    @discardableResult
    static func carry(_ from: EmbeddedChannel, _ to: EmbeddedChannel) throws -> Bool {
        var moved = false
        while let buffer = try from.readOutbound(as: ByteBuffer.self) {
            moved = true
            if to.isActive { try to.writeInbound(buffer) }
        }
        return moved
    }

    static func connect(_ channel: EmbeddedChannel) throws {
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6881)).wait()
    }

    @Test("dialled and accepted sides agree on RC4; the peer pipeline opens after it and its bytes cross encrypted",
          arguments: [MSECryptoMethods.rc4, [.rc4, .plaintext]])
    func roundTrip(provide: MSECryptoMethods) throws {
        let dialler = EmbeddedChannel()
        let acceptor = EmbeddedChannel()
        let established = dialler.eventLoop.makePromise(of: Void.self)
        let (ours, theirs) = (Recorder(), Recorder())
        try dialler.pipeline.syncOperations.addHandlers([
            EncryptionHandler(role: .initiator(infoHash: Self.torrent, provide: provide, initialPayload: [],
                                               established: established)), ours,
        ])
        try acceptor.pipeline.syncOperations.addHandlers([Self.incoming(allow: [.rc4, .plaintext], plaintext: true), theirs])
        try Self.connect(acceptor)
        try Self.connect(dialler)
        #expect(!ours.activated, "the peer pipeline waits for the handshake")
        var rounds = 0
        while try Self.carry(dialler, acceptor) || Self.carry(acceptor, dialler) {
            rounds += 1
            #expect(rounds < 20)
        }
        #expect(ours.activated)
        var done = false
        established.futureResult.assumeIsolated().whenSuccess { done = true }
        #expect(done)

        let hello = Array("\u{13}BitTorrent protocol hello".utf8)
        try dialler.writeAndFlush(ByteBuffer(bytes: hello)).wait()
        let wire = try #require(try dialler.readOutbound(as: ByteBuffer.self))
        #expect(Array(wire.readableBytesView) != hello, "RC4 on the wire")
        try acceptor.writeInbound(wire)
        #expect(theirs.received == hello)
        try acceptor.writeAndFlush(ByteBuffer(bytes: [1, 2, 3])).wait()
        try Self.carry(acceptor, dialler)
        #expect(ours.received == [1, 2, 3])
        _ = try? dialler.finish()
        _ = try? acceptor.finish()
    }

    @Test("the dialler's handshake rides in the MSE handshake (IA): the acceptor has it at once, and the dialler's own write of it is not sent again",
          arguments: [MSECryptoMethods.rc4, .plaintext])
    func initialPayload(provide: MSECryptoMethods) throws {
        let dialler = EmbeddedChannel()
        let acceptor = EmbeddedChannel()
        let established = dialler.eventLoop.makePromise(of: Void.self)
        let (ours, theirs) = (Recorder(), Recorder())
        let hello = Array("\u{13}BitTorrent protocol".utf8) + [UInt8](repeating: 7, count: 48)
        try dialler.pipeline.syncOperations.addHandlers([
            EncryptionHandler(role: .initiator(infoHash: Self.torrent, provide: provide, initialPayload: hello,
                                               established: established)), ours,
        ])
        try acceptor.pipeline.syncOperations.addHandlers([Self.incoming(allow: [.rc4, .plaintext], plaintext: true), theirs])
        try Self.connect(acceptor)
        try Self.connect(dialler)
        while try Self.carry(dialler, acceptor) || Self.carry(acceptor, dialler) {}
        #expect(ours.activated)
        #expect(theirs.received == hello, "the IA reached the acceptor's pipeline with the handshake")
        // The dialler's pipeline now writes its handshake (split, as a stream may be) and more.
        try dialler.writeAndFlush(ByteBuffer(bytes: hello.prefix(30))).wait()
        try dialler.writeAndFlush(ByteBuffer(bytes: Array(hello.dropFirst(30)) + [1, 2, 3])).wait()
        try Self.carry(dialler, acceptor)
        #expect(theirs.received == hello + [1, 2, 3], "the handshake once, then the stream")
        _ = try? dialler.finish()
        _ = try? acceptor.finish()
    }

    @Test("an accepted plaintext handshake passes through untouched, and the handler leaves")
    func plaintextPassesThrough() throws {
        let acceptor = EmbeddedChannel()
        let theirs = Recorder()
        try acceptor.pipeline.syncOperations.addHandlers([Self.incoming(allow: [.rc4, .plaintext], plaintext: true), theirs])
        try Self.connect(acceptor)
        let handshake = [UInt8(19)] + Array("BitTorrent protocol".utf8) + [UInt8](repeating: 0, count: 8)
        try acceptor.writeInbound(ByteBuffer(bytes: handshake.prefix(5)))
        #expect(theirs.received.isEmpty, "undecided after 5 bytes")
        try acceptor.writeInbound(ByteBuffer(bytes: handshake.dropFirst(5)))
        #expect(theirs.received == handshake)
        #expect(throws: (any Error).self) { try acceptor.pipeline.syncOperations.handler(type: EncryptionHandler.self) }
        _ = try? acceptor.finish()
    }

    @Test("require refuses a plaintext handshake; a refused encrypted attempt fails the dial and never opens the pipeline")
    func refusals() throws {
        let acceptor = EmbeddedChannel()
        try acceptor.pipeline.syncOperations.addHandlers([Self.incoming(allow: .rc4, plaintext: false), Recorder()])
        try Self.connect(acceptor)
        try acceptor.writeInbound(ByteBuffer(bytes: [UInt8(19)] + Array("BitTorrent protocol".utf8)))
        #expect(!acceptor.isActive)

        let dialler = EmbeddedChannel()
        let established = dialler.eventLoop.makePromise(of: Void.self)
        let ours = Recorder()
        try dialler.pipeline.syncOperations.addHandlers([
            EncryptionHandler(role: .initiator(infoHash: Self.torrent, provide: .rc4, initialPayload: [],
                                               established: established)), ours,
        ])
        try Self.connect(dialler)
        _ = try dialler.readOutbound(as: ByteBuffer.self)  // Ya and PadA
        var failure: (any Error)?
        established.futureResult.assumeIsolated().whenFailure { failure = $0 }
        dialler.pipeline.fireChannelInactive()  // the peer hung up
        #expect(failure is EncryptionHandler.HandshakeFailed)
        #expect(!ours.activated && !ours.inactive)
        _ = try? dialler.finish()

        // A dialled peer that answers with a plaintext handshake fails the attempt at once.
        let eager = EmbeddedChannel()
        let eagerEstablished = eager.eventLoop.makePromise(of: Void.self)
        try eager.pipeline.syncOperations.addHandlers([
            EncryptionHandler(role: .initiator(infoHash: Self.torrent, provide: [.rc4, .plaintext], initialPayload: [],
                                               established: eagerEstablished)), Recorder(),
        ])
        try Self.connect(eager)
        var eagerFailure: (any Error)?
        eagerEstablished.futureResult.assumeIsolated().whenFailure { eagerFailure = $0 }
        try eager.writeInbound(ByteBuffer(bytes: [UInt8(19)] + Array("BitTorrent protocol".utf8) + [0, 0]))
        #expect(eagerFailure is EncryptionHandler.HandshakeFailed)
        #expect(!eager.isActive)
    }
}
