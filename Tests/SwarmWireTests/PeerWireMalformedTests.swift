import NIOCore
import NIOEmbedded
import SwarmMetainfo
import Testing
@testable import SwarmWire

@Suite("Peer wire codec refuses hostile input")
struct PeerWireMalformedTests {
    private func decodeMessages(_ bytes: [UInt8], limits: PeerWireLimits = .default, chunkSize: Int = .max) throws -> [PeerWireFrame] {
        try WireTestSupport.decode(bytes, chunkSize: chunkSize, limits: limits, expectHandshake: false)
    }

    @Test("a 2^31 length prefix is refused from the 4 prefix bytes alone")
    func hugeLengthPrefix() {
        #expect(throws: PeerWireError.messageTooLarge(length: 1 << 31, limit: PeerWireLimits.default.maxMessageLength)) {
            try decodeMessages(WireTestSupport.rawMessage(length: 1 << 31, id: nil))
        }
        #expect(throws: PeerWireError.self) {
            try decodeMessages(WireTestSupport.rawMessage(length: .max, id: nil))
        }
    }

    @Test("a short have is malformed", arguments: [UInt32(1), 3, 4, 6])
    func shortHave(length: UInt32) {
        #expect(throws: PeerWireError.malformed(messageID: 4, length: length)) {
            try decodeMessages(WireTestSupport.rawMessage(length: length, id: 4, payload: [0, 0, 0]))
        }
    }

    @Test("a request, cancel or reject of the wrong size is malformed", arguments: [UInt8(6), 8, 0x10])
    func wrongSizeRequest(id: UInt8) {
        for length: UInt32 in [12, 14, 1] {
            #expect(throws: PeerWireError.malformed(messageID: id, length: length)) {
                try decodeMessages(WireTestSupport.rawMessage(length: length, id: id, payload: [UInt8](repeating: 0, count: 11)))
            }
        }
    }

    @Test("fixed-size messages with a payload are malformed")
    func payloadOnEmptyMessages() {
        for id: UInt8 in [0, 1, 2, 3, 0x0E, 0x0F] {
            #expect(throws: PeerWireError.malformed(messageID: id, length: 2)) {
                try decodeMessages(WireTestSupport.rawMessage(length: 2, id: id, payload: [0]))
            }
        }
        #expect(throws: PeerWireError.malformed(messageID: 9, length: 5)) {
            try decodeMessages(WireTestSupport.rawMessage(length: 5, id: 9, payload: [0, 0, 0, 0]))
        }
    }

    @Test("a piece shorter than its header or larger than a block is refused")
    func badPieceSizes() {
        #expect(throws: PeerWireError.malformed(messageID: 7, length: 8)) {
            try decodeMessages(WireTestSupport.rawMessage(length: 8, id: 7, payload: [0, 0, 0, 0, 0, 0, 0]))
        }
        // Oversized is refused from the 5-byte header, before the body arrives.
        #expect(throws: PeerWireError.messageTooLarge(length: 16384 + 10, limit: 16384 + 9)) {
            try decodeMessages(WireTestSupport.rawMessage(length: 16384 + 10, id: 7))
        }
    }

    @Test("the bitfield bound follows the torrent's piece count")
    func bitfieldBound() throws {
        let limits = PeerWireLimits(pieceCount: 100)  // 13 bytes
        let ok = try decodeMessages(WireTestSupport.rawMessage(length: 14, id: 5, payload: [UInt8](repeating: 0xFF, count: 13)), limits: limits)
        #expect(ok.count == 1)
        #expect(throws: PeerWireError.messageTooLarge(length: 15, limit: 14)) {
            try decodeMessages(WireTestSupport.rawMessage(length: 15, id: 5), limits: limits)
        }
        // A huge torrent raises the overall limit to fit its bitfield.
        let big = PeerWireLimits.limits(pieceCount: 1_000_000)
        #expect(big.maxMessageLength == 125_001)
        #expect(PeerWireLimits.default.maxMessageLength >= 16 * 1024 + 9)
    }

    @Test("unknown message ids are skipped, not fatal")
    func unknownIDsSkipped() throws {
        let bytes = WireTestSupport.rawMessage(length: 11, id: 99, payload: [UInt8](repeating: 0xEE, count: 10))
            + WireTestSupport.rawMessage(length: 5, id: 4, payload: [0, 0, 0, 9])
            + WireTestSupport.rawMessage(length: 1, id: 200)
        for chunk in [1, 5, 1000] {
            #expect(try decodeMessages(bytes, chunkSize: chunk) == [.message(.have(piece: 9))])
        }
        #expect(throws: PeerWireError.self) {
            try decodeMessages(WireTestSupport.rawMessage(length: 1 << 20, id: 99))
        }
    }

    @Test("a garbage handshake is refused at its first bad byte")
    func garbageHandshake() {
        #expect(throws: PeerWireError.badHandshakeProtocol(offset: 0)) {
            try WireTestSupport.decode(Array("GET / HTTP/1.1\r\n".utf8))
        }
        var wrongName = [UInt8(19)] + Array("BitTorrent protocoX".utf8)
        wrongName += [UInt8](repeating: 0, count: 48)
        #expect(throws: PeerWireError.badHandshakeProtocol(offset: 19)) {
            try WireTestSupport.decode(wrongName, chunkSize: 1)
        }
        // Even before all 68 bytes arrive.
        #expect(throws: PeerWireError.badHandshakeProtocol(offset: 2)) {
            try WireTestSupport.decode([19, UInt8(ascii: "B"), UInt8(ascii: "x")])
        }
    }

    @Test("garbage right after a valid handshake is refused")
    func garbageAfterHandshake() throws {
        let handshake = try WireTestSupport.encode([.handshake(.ours(infoHash: WireTestSupport.infoHash, peerID: WireTestSupport.peerID))])
        #expect(throws: PeerWireError.self) {
            try WireTestSupport.decode(handshake + [0xFF, 0xFF, 0xFF, 0xFF, 0x41])
        }
    }

    @Test("a truncated frame waits for more data without emitting anything")
    func partialFrameWaits() throws {
        var decoder = PeerWireDecoder(expectHandshake: false)
        let full = WireTestSupport.rawMessage(length: 13, id: 6, payload: [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3])
        for cut in 0..<full.count {
            var partial = ByteBuffer(bytes: full[0..<cut])
            #expect(try decoder.decodeFrame(from: &partial) == nil)
            #expect(partial.readableBytes == cut, "nothing is consumed from a partial frame")
        }
    }

    @Test("a connection that ends mid-frame still delivers the complete frames before it")
    func endMidFrame() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(PeerWireDecoder(expectHandshake: false)))
        let have = WireTestSupport.rawMessage(length: 5, id: 4, payload: [0, 0, 0, 3])
        try channel.writeInbound(ByteBuffer(bytes: have + WireTestSupport.rawMessage(length: 13, id: 6, payload: [0, 0])))
        #expect(try channel.readInbound(as: PeerWireFrame.self) == .message(.have(piece: 3)))
        #expect(throws: Never.self) { _ = try channel.finish() }
    }

    @Test("seeded random bytes never trap the decoder", arguments: [UInt64(1), 2, 3, 42, 1234])
    func fuzzRandomBytes(seed: UInt64) async throws {
        var random = FixedSeed(state: seed)
        let valid = try WireTestSupport.encode(
            [.handshake(.ours(infoHash: WireTestSupport.infoHash, peerID: WireTestSupport.peerID))]
                + WireTestSupport.everyMessage.map(PeerWireFrame.message))
        for round in 0..<100 {
            // CPU-bound: let the other (timing-sensitive) tests of the process run in between.
            await Task.yield()
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<600, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                if round % 4 == 0 { bytes = Array(valid.prefix(68)) + bytes }
            } else {
                // Mutate a valid stream: flip a few bytes anywhere, lengths and ids included.
                bytes = valid
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            }
            var decoder = PeerWireDecoder(limits: .default)
            var buffer = ByteBuffer(bytes: bytes)
            var frames = 0
            do {
                while let frame = try decoder.decodeFrame(from: &buffer) {
                    if frame != nil { frames += 1 }
                    #expect(frames <= bytes.count, "progress is bounded by input")
                }
            } catch {
                // Refusing is fine; trapping or looping is not.
            }
            // The same input through the channel handler, in small chunks, must not trap either.
            _ = try? WireTestSupport.decode(bytes, chunkSize: round % 2 == 0 ? 7 : 4096)
        }
    }
}
