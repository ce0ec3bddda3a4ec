import NIOCore
import SwarmMetainfo
import Testing
@testable import SwarmWire

@Suite("Peer wire codec round trips")
struct PeerWireRoundTripTests {
    private var stream: [PeerWireFrame] {
        [.handshake(.ours(infoHash: WireTestSupport.infoHash, peerID: WireTestSupport.peerID))]
            + WireTestSupport.everyMessage.map(PeerWireFrame.message)
    }

    @Test("every message survives encode then decode, delivered whole")
    func roundTripWhole() throws {
        let bytes = try WireTestSupport.encode(stream)
        #expect(try WireTestSupport.decode(bytes) == stream)
    }

    @Test("every message survives encode then decode, delivered byte by byte", arguments: [1, 2, 3, 7, 67, 68, 69, 4096])
    func roundTripSplit(chunkSize: Int) throws {
        let bytes = try WireTestSupport.encode(stream)
        #expect(try WireTestSupport.decode(bytes, chunkSize: chunkSize) == stream)
    }

    @Test("encoded sizes match BEP 3 / BEP 6 / BEP 10")
    func encodedSizes() throws {
        let expected: [(PeerMessage, Int)] = [
            (.keepAlive, 4), (.choke, 5), (.have(piece: 1), 9), (.request(BlockRequest(piece: 0, begin: 0, length: 1)), 17),
            (.port(1), 7), (.haveAll, 5), (.allowedFast(piece: 1), 9),
            (.piece(index: 0, begin: 0, block: WireTestSupport.buffer([1, 2, 3])), 16),
            (.extended(id: 2, payload: WireTestSupport.buffer([1, 2])), 8),
        ]
        for (message, size) in expected {
            #expect(try WireTestSupport.encode([.message(message)]).count == size, "\(message)")
        }
        let handshake = try WireTestSupport.encode([.handshake(.ours(infoHash: WireTestSupport.infoHash, peerID: WireTestSupport.peerID))])
        #expect(handshake.count == 68)
        #expect(handshake[0] == 19)
        #expect(Array(handshake[1..<20]) == Array("BitTorrent protocol".utf8))
        #expect(Array(handshake[28..<48]) == WireTestSupport.infoHash.bytes)
        #expect(Array(handshake[48..<68]) == WireTestSupport.peerID.bytes)
    }

    @Test("message ids on the wire are the BEP numbers")
    func messageIDs() throws {
        let ids: [(PeerMessage, UInt8)] = [
            (.choke, 0), (.unchoke, 1), (.interested, 2), (.notInterested, 3), (.have(piece: 0), 4),
            (.bitfield(WireTestSupport.buffer([0])), 5), (.request(BlockRequest(piece: 0, begin: 0, length: 0)), 6),
            (.piece(index: 0, begin: 0, block: WireTestSupport.buffer([])), 7),
            (.cancel(BlockRequest(piece: 0, begin: 0, length: 0)), 8), (.port(0), 9), (.suggest(piece: 0), 0x0D),
            (.haveAll, 0x0E), (.haveNone, 0x0F), (.reject(BlockRequest(piece: 0, begin: 0, length: 0)), 0x10),
            (.allowedFast(piece: 0), 0x11), (.extended(id: 0, payload: WireTestSupport.buffer([])), 20),
        ]
        for (message, id) in ids {
            #expect(try WireTestSupport.encode([.message(message)])[4] == id, "\(message)")
        }
    }

    @Test("a decoded block is a slice of the inbound buffer, not a copy")
    func pieceIsSlice() throws {
        let block = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        var buffer = ByteBuffer(bytes: WireTestSupport.rawMessage(length: 9 + 1000, id: 7, payload: [0, 0, 0, 5, 0, 0, 0, 0] + block))
        let base = buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        var decoder = PeerWireDecoder(expectHandshake: false)
        let frame = try decoder.decodeFrame(from: &buffer)
        guard case let .message(.piece(index, begin, decoded))?? = frame else {
            Issue.record("expected a piece, got \(String(describing: frame))")
            return
        }
        #expect(index == 5 && begin == 0)
        #expect(Array(decoded.readableBytesView) == block)
        let sliceAddress = decoded.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(sliceAddress == base + 13, "the block must point into the inbound buffer's storage")
    }

    @Test("handshake reserved bits: ours advertises BEP 6 and BEP 10, not DHT")
    func handshakeFlags() {
        var handshake = Handshake.ours(infoHash: WireTestSupport.infoHash, peerID: WireTestSupport.peerID)
        #expect(handshake.reserved == [0, 0, 0, 0, 0, 0x10, 0, 0x04])
        #expect(handshake.supportsExtensionProtocol && handshake.supportsFastExtension && !handshake.supportsDHT)
        handshake.supportsDHT = true
        handshake.supportsFastExtension = false
        #expect(handshake.reserved == [0, 0, 0, 0, 0, 0x10, 0, 0x01])
        let plain = Handshake(infoHash: WireTestSupport.infoHash, peerID: WireTestSupport.peerID, reserved: [])
        #expect(!plain.supportsExtensionProtocol && !plain.supportsFastExtension)
    }

    @Test("short reserved arrays are zero-padded to 8 bytes on the wire")
    func reservedPadding() throws {
        let handshake = Handshake(infoHash: WireTestSupport.infoHash, peerID: WireTestSupport.peerID, reserved: [1, 2])
        let bytes = try WireTestSupport.encode([.handshake(handshake)])
        #expect(bytes.count == 68)
        #expect(Array(bytes[20..<28]) == [1, 2, 0, 0, 0, 0, 0, 0])
    }
}

/// A deterministic generator for reproducibility checks.
struct FixedSeed: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state
    }
}
