import Foundation
import NIOCore
import NIOPosix
import SwarmMetainfo
import Testing
@testable import SwarmWire

/// Fetches a torrent's info dictionary from a real libtorrent seeder over BEP 9, through our
/// codec, `MetadataMessage` and `MetadataAssembler`: what magnet links will do.
@Suite("ut_metadata against libtorrent", .serialized)
struct LibtorrentMetadataTests {
    typealias Collector = LibtorrentHandshakeTests.FrameCollector

    @Test("two metadata pieces arrive, verify against the info-hash and parse; a piece past the end is rejected",
          .enabled(if: LibtorrentSeeder.isAvailable, "python3-libtorrent is not installed"))
    func fetchMetadata() async throws {
        // 860 pieces of 16 KiB: 17,200 bytes of piece hashes, so the info dictionary has two metadata pieces.
        let pieceLength = 16 * 1024
        let size = 860 * pieceLength - 500
        let seeder = try await LibtorrentSeeder.start(host: "127.0.0.72", size: size, pieceLength: pieceLength)
        defer { seeder.stop() }
        let infoHash = try #require(InfoHash(hex: seeder.infoHashHex))

        let (stream, continuation) = AsyncStream.makeStream(of: PeerWireFrame.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(PeerWireDecoder(limits: .default)),
                        MessageToByteHandler(PeerWireEncoder()),
                        LibtorrentHandshakeTests.HandshakeSender(handshake: .ours(infoHash: infoHash, peerID: .generate())),
                        Collector(continuation: continuation),
                    ])
                }
            }
            .connect(host: seeder.host, port: seeder.port).get()
        defer { channel.close(promise: nil) }
        let ourMetadataID: UInt8 = 3
        let ours = ExtensionHandshake(m: [ExtensionHandshake.metadataExtension: ourMetadataID], clientName: "swarmfs-test")
        try await channel.writeAndFlush(PeerWireFrame.message(.extended(id: 0, payload: ours.encoded())))

        var assembler: MetadataAssembler<Int>?
        var theirMetadataID: UInt8 = 0
        var rejected: [Int] = []
        var infoDictionary: [UInt8]?
        // A silent seeder must not hang the test: closing the channel ends the stream.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(20))
            channel.close(promise: nil)
        }
        defer { watchdog.cancel() }
        for await frame in stream {
            guard case let .message(.extended(id, payload)) = frame else { continue }
            if id == 0 {
                let theirs = try ExtensionHandshake(decoding: payload)
                theirMetadataID = try #require(theirs.messageID(for: ExtensionHandshake.metadataExtension))
                let total = try #require(theirs.metadataSize)
                #expect(total > MetadataLayout.pieceLength && total <= 2 * MetadataLayout.pieceLength)
                var fresh = try MetadataAssembler<Int>(infoHash: infoHash, totalSize: Int64(total), maxOutstandingPerPeer: 1)
                // One piece at a time (the cap), then one that does not exist.
                for piece in fresh.requests(for: 1, now: .now) + [2] {
                    try await channel.writeAndFlush(PeerWireFrame.message(.extended(
                        id: theirMetadataID, payload: MetadataMessage.request(piece: piece).encoded())))
                }
                assembler = fresh
                continue
            }
            guard id == ourMetadataID, var current = assembler else { continue }
            switch try MetadataMessage.decode(payload) {
            case let .data(piece, totalSize, block)?:
                let progress = try current.received(piece: Int64(piece), totalSize: Int64(totalSize),
                                                    data: block.readableBytesView, from: 1)
                if case let .complete(bytes) = progress { infoDictionary = bytes }
                #expect(progress != .verificationFailed(contributors: [1]), "libtorrent's metadata does not hash to its info-hash")
                for next in current.requests(for: 1, now: .now) {
                    try await channel.writeAndFlush(PeerWireFrame.message(.extended(
                        id: theirMetadataID, payload: MetadataMessage.request(piece: next).encoded())))
                }
            case let .reject(piece)?:
                rejected.append(piece)
            default:
                break
            }
            assembler = current
            if infoDictionary != nil && !rejected.isEmpty { break }
        }
        #expect(rejected == [2])
        let bytes = try #require(infoDictionary)
        let metainfo = try Metainfo(infoDictionary: bytes)
        #expect(metainfo.infoHash == infoHash)
        #expect(metainfo.layout.pieceCount == 860 && metainfo.totalLength == Int64(size))
    }
}
