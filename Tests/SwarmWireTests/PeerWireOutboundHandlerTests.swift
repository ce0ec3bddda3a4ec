import NIOCore
import NIOEmbedded
import Testing
@testable import SwarmWire

@Suite("Coalescing, zero-copy outbound handler")
struct PeerWireOutboundHandlerTests {
    private func drain(_ channel: EmbeddedChannel) throws -> [ByteBuffer] {
        var buffers: [ByteBuffer] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { buffers.append(buffer) }
        return buffers
    }

    @Test("small messages are batched until flush, byte-identical to the plain encoder")
    func batching() throws {
        let channel = EmbeddedChannel(handler: PeerWireOutboundHandler())
        defer { _ = try? channel.finish() }
        let requests = (0..<64).map { PeerWireFrame.message(.request(BlockRequest(piece: 3, begin: UInt32($0) * 16384, length: 16384))) }
        let promises = requests.map { _ in channel.eventLoop.makePromise(of: Void.self) }
        for (frame, promise) in zip(requests, promises) { channel.write(frame, promise: promise) }
        #expect(try drain(channel).isEmpty, "nothing leaves before flush")
        channel.flush()
        let written = try drain(channel)
        #expect(written.count == 1, "one buffer for the whole batch")
        #expect(written.first.map { Array($0.readableBytesView) } == (try WireTestSupport.encode(requests)))
        for promise in promises { #expect(throws: Never.self) { try promise.futureResult.wait() } }
    }

    @Test("a piece block goes out as its own buffer, not copied, after its header")
    func zeroCopyPiece() throws {
        let channel = EmbeddedChannel(handler: PeerWireOutboundHandler())
        defer { _ = try? channel.finish() }
        let block = ByteBuffer(bytes: (0..<16384).map { UInt8(truncatingIfNeeded: $0 * 7) })
        let blockAddress = block.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let frames: [PeerWireFrame] = [
            .message(.have(piece: 1)), .message(.piece(index: 2, begin: 16384, block: block)), .message(.unchoke),
            .message(.piece(index: 2, begin: 0, block: ByteBuffer(bytes: [1, 2, 3]))),
        ]
        for frame in frames { channel.write(frame, promise: nil) }
        channel.flush()
        let written = try drain(channel)
        #expect(written.count == 3)  // [have + header], [block], [unchoke + small piece]
        if written.count == 3 {
            #expect(written[0].readableBytes == 9 + 13)
            #expect(written[1].withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } == blockAddress)
        }
        let bytes = written.flatMap { Array($0.readableBytesView) }
        #expect(bytes == (try WireTestSupport.encode(frames)))
        #expect(try WireTestSupport.decode(bytes, expectHandshake: false) == frames)
    }

    @Test("a handshake followed by messages decodes back in order")
    func handshakeOrder() throws {
        let channel = EmbeddedChannel(handler: PeerWireOutboundHandler())
        defer { _ = try? channel.finish() }
        let frames: [PeerWireFrame] = [.handshake(.ours(infoHash: WireTestSupport.infoHash, peerID: WireTestSupport.peerID))]
            + WireTestSupport.everyMessage.map(PeerWireFrame.message)
        for frame in frames { channel.write(frame, promise: nil) }
        channel.flush()
        let bytes = try drain(channel).flatMap { Array($0.readableBytesView) }
        #expect(try WireTestSupport.decode(bytes, chunkSize: 5) == frames)
    }

    @Test("the batch is written early once it is large, bounding memory")
    func earlyWrite() throws {
        let channel = EmbeddedChannel(handler: PeerWireOutboundHandler())
        defer { _ = try? channel.finish() }
        let have = PeerWireFrame.message(.have(piece: 1))
        let count = PeerWireOutboundHandler.maxBatchBytes / 9 + 10
        for _ in 0..<count { channel.write(have, promise: nil) }
        channel.flush()
        let written = try drain(channel)
        #expect(written.count == 2, "the batch was cut once it reached the bound")
        #expect(written.map(\.readableBytes).max() ?? 0 < PeerWireOutboundHandler.maxBatchBytes + 9)
        #expect(written.map(\.readableBytes).reduce(0, +) == count * 9)
    }
}
