import NIOCore
import SwarmMetainfo
import Testing
@testable import SwarmWire

@Suite("BEP 9 ut_metadata messages")
struct MetadataMessageTests {
    private func decode(_ text: String, block: [UInt8] = []) throws -> MetadataMessage? {
        try MetadataMessage.decode(ByteBuffer(bytes: Array(text.utf8) + block))
    }

    @Test("the BEP 9 examples decode and encode to the same bytes")
    func bepExamples() throws {
        #expect(try decode("d8:msg_typei0e5:piecei0ee") == .request(piece: 0))
        #expect(Array(MetadataMessage.request(piece: 0).encoded().readableBytesView) == Array("d8:msg_typei0e5:piecei0ee".utf8))
        // The data example, with a full first piece of a 34256-byte info dictionary after it.
        let block = [UInt8](repeating: UInt8(ascii: "x"), count: 16384)
        let data = try #require(try decode("d8:msg_typei1e5:piecei0e10:total_sizei34256ee", block: block))
        #expect(data == .data(piece: 0, totalSize: 34256, block: ByteBuffer(bytes: block)))
        #expect(Array(data.encoded().readableBytesView) == Array("d8:msg_typei1e5:piecei0e10:total_sizei34256ee".utf8) + block)
        // BEP 9's reject example says msg_type 1 by mistake; a reject is msg_type 2.
        #expect(try decode("d8:msg_typei2e5:piecei0ee") == .reject(piece: 0))
    }

    @Test("the last piece carries the rest, and only the rest")
    func lastPiece() throws {
        let rest = [UInt8](repeating: 7, count: 34256 - 32768)
        let header = "d8:msg_typei1e5:piecei2e10:total_sizei34256ee"
        #expect(try decode(header, block: rest) == .data(piece: 2, totalSize: 34256, block: ByteBuffer(bytes: rest)))
        #expect(throws: PeerWireError.self) { try decode(header, block: rest + [0]) }
        #expect(throws: PeerWireError.self) { try decode(header, block: Array(rest.dropLast())) }
        #expect(throws: PeerWireError.self, "piece 3 does not exist") {
            try decode("d8:msg_typei1e5:piecei3e10:total_sizei34256ee", block: [1])
        }
        #expect(throws: PeerWireError.self, "a middle piece must be 16 KiB") {
            try decode("d8:msg_typei1e5:piecei1e10:total_sizei34256ee", block: rest)
        }
    }

    @Test("an unknown msg_type is ignored, as BEP 9 requires")
    func unknownType() throws {
        #expect(try decode("d8:msg_typei3e5:piecei0ee") == nil)
        #expect(try decode("d8:msg_typei-1e5:piecei0e3:fooi1ee") == nil)
    }

    @Test("hostile messages are refused",
          arguments: ["", "i1e", "le", "d8:msg_typei0ee", "d5:piecei0ee", "d8:msg_type1:05:piecei0ee",
                      "d8:msg_typei0e5:piece1:0e", "d8:msg_typei0e5:piecei-1ee", "d8:msg_typei0e5:piecei2048ee",
                      "d8:msg_typei0e5:piecei99999999999999999999ee", "d8:msg_typei1e5:piecei0ee",
                      "d8:msg_typei1e5:piecei0e10:total_sizei0ee", "d8:msg_typei1e5:piecei0e10:total_sizei-5ee",
                      "d8:msg_typei1e5:piecei0e10:total_sizei33554433ee", "d8:msg_typei1e5:piecei0e10:total_size2:10e",
                      "d8:msg_typei0e5:piecei0e", "d8:msg_typei0e5:piecei0e1:xlllllee", "d1:ad1:bd1:cd1:di1eeeee"])
    func hostile(text: String) {
        #expect(throws: PeerWireError.self) { try decode(text) }
    }

    @Test("a payload over a piece plus 1 KiB is refused before decoding")
    func tooLarge() {
        let payload = [UInt8](repeating: UInt8(ascii: "d"), count: MetadataMessage.maxEncodedLength + 1)
        #expect(throws: PeerWireError.badMetadataMessage(detail: "\(payload.count) bytes is too large")) {
            try MetadataMessage.decode(ByteBuffer(bytes: payload))
        }
    }

    @Test("a full data message travels inside an extended message under the default wire limits")
    func throughTheWire() throws {
        let block = [UInt8](repeating: 0xAB, count: 16384)
        let message = MetadataMessage.data(piece: 2047, totalSize: MetadataLayout.maxTotalSize, block: ByteBuffer(bytes: block))
        let bytes = try WireTestSupport.encode([.message(.extended(id: 3, payload: message.encoded()))])
        let frames = try WireTestSupport.decode(bytes, chunkSize: 1000, expectHandshake: false)
        guard case let .message(.extended(id, payload)) = try #require(frames.first) else {
            Issue.record("expected an extended message, got \(frames)")
            return
        }
        #expect(id == 3)
        #expect(try MetadataMessage.decode(payload) == message)
    }
}
