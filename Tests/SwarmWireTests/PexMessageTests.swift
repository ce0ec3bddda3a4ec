import NIOCore
import SwarmMetainfo
import Testing
@testable import SwarmWire

@Suite("BEP 11 ut_pex messages")
struct PexMessageTests {
    static let v4 = PeerAddress(host: "192.0.2.1", port: 6881)
    static let v4b = PeerAddress(host: "10.1.2.3", port: 51413)
    static let v6 = PeerAddress(host: "2001:db8::1", port: 6882)

    private func bytes(_ message: PexMessage) throws -> [UInt8] {
        Array(try message.encoded().readableBytesView)
    }

    @Test("added with flags and dropped, both families, survive encode and decode")
    func roundTrip() throws {
        let message = PexMessage(
            added: [.init(address: Self.v4, flags: PexMessage.AddedPeer.seed | PexMessage.AddedPeer.reachable),
                    .init(address: Self.v6, flags: PexMessage.AddedPeer.supportsUTP)],
            dropped: [Self.v4b, PeerAddress(host: "2001:db8::2", port: 1)])
        let encoded = try message.encoded()
        #expect(try PexMessage(decoding: encoded) == message)
        let text = String(decoding: encoded.readableBytesView, as: UTF8.self)
        #expect(text.hasPrefix("d5:added6:"), "keys sorted, compact strings")
        #expect(text.contains("7:added.f1:\u{12}"))
    }

    @Test("the wire form is the compact one of BEP 11")
    func wireForm() throws {
        let encoded = try bytes(PexMessage(added: [.init(address: Self.v4, flags: 0x10)], dropped: [Self.v4b]))
        let expected: [UInt8] = Array("d5:added6:".utf8) + [192, 0, 2, 1, 0x1a, 0xe1] + Array("7:added.f1:".utf8) + [0x10]
            + Array("7:dropped6:".utf8) + [10, 1, 2, 3, 0xc8, 0xd5] + Array("e".utf8)
        #expect(encoded == expected)
    }

    @Test("flags of the wrong length are ignored; port 0, repeats and added-and-dropped are dropped")
    func lenientDecode() throws {
        let one: [UInt8] = [192, 0, 2, 1, 0x1a, 0xe1]
        let zeroPort: [UInt8] = [192, 0, 2, 9, 0, 0]
        var payload = Array("d5:added18:".utf8) + one + zeroPort + one + Array("7:added.f2:".utf8) + [1, 2]
        payload += Array("7:dropped12:".utf8) + one + [10, 1, 2, 3, 0xc8, 0xd5] + Array("3:fooi1ee".utf8)
        let message = try PexMessage(decoding: ByteBuffer(bytes: payload))
        #expect(message.added == [.init(address: Self.v4, flags: 0)], "2 flags for 3 entries: none believed")
        #expect(message.dropped == [Self.v4b])
        let flagged = try PexMessage(decoding: ByteBuffer(bytes: Array("d5:added12:".utf8) + zeroPort + one
                                                           + Array("7:added.f2:".utf8) + [1, 2] + Array("e".utf8)))
        #expect(flagged.added == [.init(address: Self.v4, flags: 2)], "a flag belongs to its entry as sent")
    }

    @Test("a hostile list is capped at maxDecodedPeers")
    func hostileList() throws {
        var list: [UInt8] = []
        for index in 0..<5000 { list += [10, UInt8(index >> 8 & 0xff), UInt8(index & 0xff), 1, 0, 1] }
        let payload = Array("d5:added\(list.count):".utf8) + list + Array("e".utf8)
        let message = try PexMessage(decoding: ByteBuffer(bytes: payload))
        #expect(message.added.count == PexMessage.maxDecodedPeers)
        #expect(throws: PexMessage.EncodingError.tooManyPeers(added: 200, dropped: 0, limit: 50)) { try message.encoded() }
    }

    @Test("malformed payloads are refused",
          arguments: ["", "le", "i5e", "d5:added5:abcdee", "d6:added617:abcdefghijklmnopqe", "d7:dropped7:abcdefge", "d5:added"])
    func malformed(text: String) {
        #expect(throws: PeerWireError.self) { try PexMessage(decoding: ByteBuffer(string: text)) }
    }

    @Test("encoding keeps BEP 11's rules")
    func encodingRules() {
        let many = (0..<51).map { PeerAddress(host: "10.0.0.\($0)", port: 1) }
        #expect(throws: PexMessage.EncodingError.tooManyPeers(added: 51, dropped: 0, limit: 50)) {
            try PexMessage(added: many.map { .init(address: $0) }).encoded()
        }
        #expect(throws: PexMessage.EncodingError.tooManyPeers(added: 0, dropped: 51, limit: 50)) {
            try PexMessage(dropped: many).encoded()
        }
        #expect(throws: PexMessage.EncodingError.notAnIPAddress(host: "peer.example")) {
            try PexMessage(added: [.init(address: PeerAddress(host: "peer.example", port: 1))]).encoded()
        }
        #expect(throws: PexMessage.EncodingError.repeated(Self.v4)) {
            try PexMessage(added: [.init(address: Self.v4)], dropped: [Self.v4]).encoded()
        }
        #expect(throws: PexMessage.EncodingError.repeated(Self.v4)) {
            try PexMessage(added: [.init(address: Self.v4), .init(address: Self.v4, flags: 1)]).encoded()
        }
        #expect(throws: PexMessage.EncodingError.empty) { try PexMessage().encoded() }
        #expect(throws: Never.self) {
            try PexMessage(added: Array(many.prefix(50)).map { .init(address: $0) }, dropped: [Self.v6]).encoded()
        }
    }
}
