import NIOCore
import NIOEmbedded
import SwarmMetainfo
@testable import SwarmWire

/// Helpers shared by the wire tests: real encoder and decoder handlers in EmbeddedChannels.
enum WireTestSupport {
    static let infoHash = InfoHash(bytes: (0..<20).map { UInt8($0 &* 13 &+ 7) })!
    static let peerID = PeerID(bytes: Array("-XX0001-abcdefghijkl".utf8))!

    /// Encodes frames through a `MessageToByteHandler(PeerWireEncoder())` and returns the bytes.
    static func encode(_ frames: [PeerWireFrame]) throws -> [UInt8] {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(PeerWireEncoder()))
        var bytes: [UInt8] = []
        for frame in frames {
            try channel.writeOutbound(frame)
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
                bytes += buffer.readableBytesView
            }
        }
        _ = try channel.finish()
        return bytes
    }

    /// Feeds `bytes` in chunks of `chunkSize` through `ByteToMessageHandler(PeerWireDecoder(...))`.
    static func decode(
        _ bytes: [UInt8], chunkSize: Int = .max, limits: PeerWireLimits = .default, expectHandshake: Bool = true
    ) throws -> [PeerWireFrame] {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(PeerWireDecoder(limits: limits, expectHandshake: expectHandshake)))
        defer { _ = try? channel.finish() }
        var frames: [PeerWireFrame] = []
        var index = 0
        while index < bytes.count {
            let end = index + min(chunkSize, bytes.count - index)
            try channel.writeInbound(ByteBuffer(bytes: bytes[index..<end]))
            while let frame = try channel.readInbound(as: PeerWireFrame.self) { frames.append(frame) }
            index = end
        }
        return frames
    }

    /// A big-endian length-prefixed raw message.
    static func rawMessage(length: UInt32, id: UInt8?, payload: [UInt8] = []) -> [UInt8] {
        var bytes = withUnsafeBytes(of: length.bigEndian, Array.init)
        if let id { bytes.append(id) }
        return bytes + payload
    }

    static func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    /// One message of every kind.
    static let everyMessage: [PeerMessage] = [
        .keepAlive, .choke, .unchoke, .interested, .notInterested,
        .have(piece: 0), .have(piece: .max),
        .bitfield(buffer([0xFF, 0x00, 0xA5, 0x80])),
        .request(BlockRequest(piece: 1, begin: 16384, length: 16384)),
        .cancel(BlockRequest(piece: 2, begin: 0, length: 100)),
        .reject(BlockRequest(piece: 3, begin: 32768, length: 16384)),
        .piece(index: 7, begin: 16384, block: buffer((0..<16384).map { UInt8(truncatingIfNeeded: $0 &* 31) })),
        .piece(index: 0, begin: 0, block: buffer([])),
        .port(6881), .suggest(piece: 42), .haveAll, .haveNone, .allowedFast(piece: 9),
        .extended(id: 0, payload: buffer(Array("d1:md11:ut_metadatai3eee".utf8))),
        .extended(id: 3, payload: buffer([])),
    ]
}
