import Foundation
import NIOCore
import NIOPosix
import SwarmMetainfo
import Testing
@testable import SwarmWire

/// Speaks the wire protocol, through our codec, with a real libtorrent seeder on loopback.
@Suite("Wire codec against libtorrent", .serialized)
struct LibtorrentHandshakeTests {
    /// Collects inbound frames into an AsyncStream.
    final class FrameCollector: ChannelInboundHandler, Sendable {
        typealias InboundIn = PeerWireFrame
        let continuation: AsyncStream<PeerWireFrame>.Continuation

        init(continuation: AsyncStream<PeerWireFrame>.Continuation) {
            self.continuation = continuation
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield(unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            continuation.finish()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            continuation.finish()
            context.close(promise: nil)
        }
    }

    /// Sends our handshake from the event loop the moment the connection is up. libtorrent
    /// closes a connection whose handshake has not arrived within 10 s (`handshake_timeout`);
    /// written from the test's task, the handshake waited for a cooperative thread, and with the
    /// whole suite running on a loaded 2-core machine that wait once passed 10 s.
    final class HandshakeSender: ChannelInboundHandler, Sendable {
        typealias InboundIn = PeerWireFrame
        typealias InboundOut = PeerWireFrame
        typealias OutboundOut = PeerWireFrame
        let handshake: Handshake

        init(handshake: Handshake) {
            self.handshake = handshake
        }

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(.handshake(handshake)), promise: nil)
            context.fireChannelActive()
        }
    }

    /// Waits for the first frame matching `predicate`, with a deadline.
    private static func next(
        _ iterator: inout AsyncStream<PeerWireFrame>.Iterator, timeout: Duration = .seconds(10),
        where predicate: (PeerWireFrame) -> Bool
    ) async -> PeerWireFrame? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let frame = await iterator.next() else { return nil }
            if predicate(frame) { return frame }
        }
        return nil
    }

    @Test("handshake, extension handshake, bitfield/have-all, unchoke and two blocks from a libtorrent seeder",
          .enabled(if: LibtorrentSeeder.isAvailable, "python3-libtorrent is not installed"))
    func downloadBlocksFromLibtorrent() async throws {
        let pieceLength = 32 * 1024
        let size = 5 * pieceLength + 1000
        let seeder = try await LibtorrentSeeder.start(host: "127.0.0.71", size: size, pieceLength: pieceLength)
        defer { seeder.stop() }
        let infoHash = try #require(InfoHash(hex: seeder.infoHashHex))
        let pieceCount = (size + pieceLength - 1) / pieceLength

        let (stream, continuation) = AsyncStream.makeStream(of: PeerWireFrame.self)
        let ourID = PeerID.generate()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(PeerWireDecoder(limits: .limits(pieceCount: pieceCount))),
                        MessageToByteHandler(PeerWireEncoder()),
                        HandshakeSender(handshake: .ours(infoHash: infoHash, peerID: ourID)),
                        FrameCollector(continuation: continuation),
                    ])
                }
            }
            .connect(host: seeder.host, port: seeder.port).get()
        defer { channel.close(promise: nil) }

        var frames = stream.makeAsyncIterator()

        guard case let .handshake(theirs)? = await Self.next(&frames, where: { _ in true }) else {
            Issue.record("no handshake from libtorrent")
            return
        }
        #expect(theirs.infoHash == infoHash)
        #expect(theirs.peerID != ourID)
        #expect(theirs.supportsExtensionProtocol && theirs.supportsFastExtension)

        var ours = ExtensionHandshake(m: ["ut_metadata": 2], clientName: "swarmfs-test", reqq: 64)
        ours.listenPort = 6881
        try await channel.writeAndFlush(PeerWireFrame.message(.extended(id: 0, payload: ours.encoded())))
        try await channel.writeAndFlush(PeerWireFrame.message(.interested))

        var sawExtensionHandshake = false
        var sawHaves = false
        var unchoked = false
        let deadline = ContinuousClock.now + .seconds(10)
        while !(sawExtensionHandshake && sawHaves && unchoked) && ContinuousClock.now < deadline {
            guard case let .message(message)? = await Self.next(&frames, where: { _ in true }) else { break }
            switch message {
            case let .extended(0, payload):
                let handshake = try ExtensionHandshake(decoding: payload)
                #expect(handshake.clientName?.contains("libtorrent") == true)
                #expect(handshake.m["ut_metadata"] != nil)
                sawExtensionHandshake = true
            case .haveAll:
                sawHaves = true
            case let .bitfield(bits):
                let bitfield = try Bitfield(wireBytes: Array(bits.readableBytesView), count: pieceCount)
                #expect(bitfield.isComplete)
                sawHaves = true
            case .unchoke:
                unchoked = true
            default:
                break
            }
        }
        #expect(sawExtensionHandshake && sawHaves && unchoked)

        // One full block of piece 1 and the short last block of the torrent.
        let lastPiece = UInt32(pieceCount - 1)
        let lastLength = UInt32(size - Int(lastPiece) * pieceLength)
        let requests = [BlockRequest(piece: 1, begin: 16384, length: 16384), BlockRequest(piece: lastPiece, begin: 0, length: lastLength)]
        for request in requests { channel.write(PeerWireFrame.message(.request(request)), promise: nil) }
        channel.flush()
        var received: [BlockRequest: [UInt8]] = [:]
        while received.count < requests.count {
            guard case let .message(.piece(index, begin, block))? = await Self.next(&frames, where: {
                if case .message(.piece) = $0 { return true }
                return false
            }) else { break }
            received[BlockRequest(piece: index, begin: begin, length: UInt32(block.readableBytes))] = Array(block.readableBytesView)
        }
        for request in requests {
            let start = Int(request.piece) * pieceLength + Int(request.begin)
            #expect(received[request] == Array(seeder.content[start..<(start + Int(request.length))]), "block \(request)")
        }
    }
}
