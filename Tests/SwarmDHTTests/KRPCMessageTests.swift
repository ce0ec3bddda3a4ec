import SwarmDHT
import SwarmMetainfo
import Testing

@Suite("KRPC messages")
struct KRPCMessageTests {
    static let querier = NodeID(ascii: "abcdefghij0123456789")
    static let queried = NodeID(ascii: "mnopqrstuvwxyz123456")
    static let target = InfoHash(bytes: Array("mnopqrstuvwxyz123456".utf8))!
    static let aa = Array("aa".utf8)

    private func decode(_ text: String) throws(KRPCDecodingError) -> KRPCMessage {
        try KRPCMessage(decoding: Array(text.utf8))
    }

    /// Decodes BEP 5's bencoded example, checks it is `expected`, and that encoding gives the
    /// example's bytes back.
    private func example(_ text: String, _ expected: KRPCMessage) throws {
        let message = try decode(text)
        #expect(message == expected)
        #expect(String(decoding: message.encoded(), as: UTF8.self) == text)
    }

    @Test("BEP 5's ping, find_node, get_peers and announce_peer queries")
    func bepQueries() throws {
        try example("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
                    KRPCMessage(transactionID: Self.aa, body: .query(.ping(id: Self.querier))))
        try example("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
                    KRPCMessage(transactionID: Self.aa, body: .query(.findNode(id: Self.querier, target: Self.queried))))
        try example("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
                    KRPCMessage(transactionID: Self.aa, body: .query(.getPeers(id: Self.querier, infoHash: Self.target))))
        // BEP 5 prints this one across two lines; the bytes are these.
        try example("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
                    KRPCMessage(transactionID: Self.aa, body: .query(.announcePeer(
                        id: Self.querier, infoHash: Self.target, port: 6881, impliedPort: false, token: Array("aoeusnth".utf8)))))
        // The dictionary form of that example also carries "implied_port": 1.
        let implied = KRPCMessage(transactionID: Self.aa, body: .query(.announcePeer(
            id: Self.querier, infoHash: Self.target, port: 6881, impliedPort: true, token: Array("aoeusnth".utf8))))
        let text = String(decoding: implied.encoded(), as: UTF8.self)
        #expect(text == "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe")
        #expect(try decode(text) == implied)
    }

    @Test("BEP 5's responses and error")
    func bepResponses() throws {
        try example("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
                    KRPCMessage(transactionID: Self.aa, body: .response(KRPCResponse(id: Self.queried))))
        // "axje.u" and "idhtnm" are two 6-byte compact peers.
        try example("d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
                    KRPCMessage(transactionID: Self.aa, body: .response(KRPCResponse(
                        id: Self.querier,
                        values: [PeerAddress(host: "97.120.106.101", port: 0x2e75), PeerAddress(host: "105.100.104.116", port: 0x6e6d)],
                        token: Array("aoeusnth".utf8)))))
        try example("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
                    KRPCMessage(transactionID: Self.aa, body: .error(code: 201, message: Array("A Generic Error Ocurred".utf8))))
    }

    @Test("BEP 5's nodes examples hold a placeholder ('def456...'), which is not a compact list")
    func bepNodesPlaceholder() {
        for text in ["d1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re",
                     "d1:rd2:id20:abcdefghij01234567895:nodes9:def456...5:token8:aoeusnthe1:t2:aa1:y1:re"] {
            #expect(throws: KRPCDecodingError(.wrongLength(key: "nodes", length: 9), transactionID: Self.aa)) {
                try decode(text)
            }
        }
    }

    @Test("nodes and nodes6 decode into one list and encode back by family")
    func nodes() throws {
        let v4 = NodeContact(id: Self.queried, ip: IPAddress(text: "192.0.2.7")!, port: 6881)
        let v6 = NodeContact(id: Self.querier, ip: IPAddress(text: "2001:db8::7")!, port: 6882)
        let message = KRPCMessage(transactionID: [0, 1], body: .response(KRPCResponse(id: Self.querier, nodes: [v4, v6], token: [9])),
                                  clientVersion: Array("LT\u{01}\u{02}".utf8), readOnly: true,
                                  requesterAddress: PeerAddress(host: "198.51.100.1", port: 1))
        let bytes = message.encoded()
        #expect(bytes.count < 200)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("5:nodes26:") && text.contains("6:nodes638:") && text.contains("2:ip6:") && text.contains("2:roi1e"))
        #expect(try KRPCMessage(decoding: bytes) == message)
    }

    @Test("a BEP 42 ip field and an unknown query name decode")
    func extensions() throws {
        let text = "d2:ip6:\u{7F}\u{00}\u{00}\u{01}\u{1A}\u{E1}1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:v4:UT\u{01}\u{02}1:y1:re"
        let response = try KRPCMessage(decoding: Array(text.unicodeScalars.map { UInt8($0.value) }))
        #expect(response.requesterAddress == PeerAddress(host: "127.0.0.1", port: 6881))
        #expect(response.clientVersion == [0x55, 0x54, 1, 2])
        let unknown = try decode("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q17:sample_infohashes1:t2:aa1:y1:qe")
        #expect(unknown.body == .query(.unknown(method: Array("sample_infohashes".utf8), id: Self.querier)))
        #expect(try decode("d1:q3:foo1:t1:x1:y1:qe").body == .query(.unknown(method: Array("foo".utf8), id: nil)))
        #expect(try decode("d1:q3:foo1:t1:x1:y1:qe").encoded() == Array("d1:ade1:q3:foo1:t1:x1:y1:qe".utf8))
    }

    @Test("a malformed query reports its transaction id, to be answered with error 203")
    func malformedQuery() {
        #expect(throws: KRPCDecodingError(.wrongLength(key: "id", length: 19), transactionID: Self.aa, isQuery: true)) {
            try decode("d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe")
        }
        #expect(throws: KRPCDecodingError(.missingKey("a"), transactionID: Self.aa, isQuery: true)) {
            try decode("d1:q4:ping1:t2:aa1:y1:qe")
        }
        #expect(throws: KRPCDecodingError(.missingKey("port"), transactionID: Self.aa, isQuery: true)) {
            try decode("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe")
        }
        #expect(throws: KRPCDecodingError(.outOfRange(key: "port", value: 70000), transactionID: Self.aa, isQuery: true)) {
            try decode("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti70000e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe")
        }
        #expect(throws: KRPCDecodingError(.outOfRange(key: "port", value: 0), transactionID: Self.aa, isQuery: true)) {
            try decode("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti0e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe")
        }
        #expect(throws: KRPCDecodingError(.wrongType(key: "implied_port"), transactionID: Self.aa, isQuery: true)) {
            try decode("d1:ad2:id20:abcdefghij012345678912:implied_port1:19:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe")
        }
    }

    @Test("implied_port makes the port optional")
    func impliedPort() throws {
        let message = try decode("d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe")
        #expect(message.body == .query(.announcePeer(id: Self.querier, infoHash: Self.target, port: 0, impliedPort: true, token: [0x78])))
        #expect(try KRPCMessage(decoding: message.encoded()) == message)
    }

    @Test("hostile messages are refused",
          arguments: [
              ("", KRPCDecodingError.Reason.notBencode(detail: "bencode ends unexpectedly at byte 0")),
              ("i1e", .notADictionary),
              ("d1:t2:aae", .missingKey("y")),
              ("d1:y1:qe", .missingKey("t")),
              ("d1:ti1e1:y1:qe", .wrongType(key: "t")),
              ("d1:t17:aaaaaaaaaaaaaaaaa1:y1:re", .tooLong(key: "t", length: 17, limit: 16)),
              ("d1:t2:aa1:y1:xe", .unknownMessageType([0x78])),
              ("d1:t2:aa1:y2:rre", .tooLong(key: "y", length: 2, limit: 1)),
              ("d1:t2:aa1:y1:re", .missingKey("r")),
              ("d1:rle1:t2:aa1:y1:re", .wrongType(key: "r")),
              ("d1:rd2:idi5ee1:t2:aa1:y1:re", .wrongType(key: "id")),
              ("d1:rd2:id20:mnopqrstuvwxyz1234565:nodesi1ee1:t2:aa1:y1:re", .wrongType(key: "nodes")),
              ("d1:rd2:id20:mnopqrstuvwxyz1234566:nodes625:aaaaaaaaaaaaaaaaaaaaaaaaae1:t2:aa1:y1:re", .wrongLength(key: "nodes6", length: 25)),
              ("d1:rd2:id20:mnopqrstuvwxyz1234566:values2:xxe1:t2:aa1:y1:re", .wrongType(key: "values")),
              ("d1:t2:aa1:y1:ee", .missingKey("e")),
              ("d1:e3:bad1:t2:aa1:y1:ee", .wrongType(key: "e")),
              ("d1:el3:bade1:t2:aa1:y1:ee", .wrongType(key: "e")),
          ])
    func hostile(text: String, reason: KRPCDecodingError.Reason) {
        #expect(throws: KRPCDecodingError.self) { try decode(text) }
        do {
            _ = try decode(text)
        } catch {
            #expect(error.reason == reason)
        }
    }

    @Test("long tokens, methods and datagrams are refused; long v and error text are dropped or cut")
    func lengths() throws {
        let token = String(repeating: "t", count: 65)
        #expect(throws: KRPCDecodingError.self) {
            try decode("d1:rd2:id20:mnopqrstuvwxyz1234565:token65:\(token)e1:t2:aa1:y1:re")
        }
        let method = String(repeating: "m", count: 33)
        #expect(throws: KRPCDecodingError(.tooLong(key: "q", length: 33, limit: 32), transactionID: Self.aa, isQuery: true)) {
            try decode("d1:q33:\(method)1:t2:aa1:y1:qe")
        }
        #expect(throws: KRPCDecodingError(.tooLarge(length: 8193))) {
            try KRPCMessage(decoding: [UInt8](repeating: 0x64, count: 8193))
        }
        let version = String(repeating: "v", count: 17)
        #expect(try decode("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:v17:\(version)1:y1:re").clientVersion == nil)
        let text = String(repeating: "x", count: 300)
        let error = try decode("d1:eli202e300:\(text)e1:t2:aa1:y1:ee")
        #expect(error.body == .error(code: 202, message: Array(text.utf8.prefix(256))))
        #expect(try decode("d1:eli204ee1:t2:aa1:y1:ee").body == .error(code: 204, message: []))
    }

    @Test("long node and value lists are cut at their caps; odd values, port 0 and repeats are skipped")
    func caps() throws {
        var nodes: [UInt8] = []
        for index in 0..<40 { nodes += [UInt8](repeating: UInt8(index), count: 20) + [10, 0, 0, UInt8(index), 0x1a, 0xe1] }
        var values: [UInt8] = Array("l".utf8)
        for index in 0..<150 { values += Array("6:".utf8) + [10, 1, UInt8(index), 1, 0, 1] }
        values += Array("5:abcde6:".utf8) + [10, 9, 9, 9, 0, 0] + Array("6:".utf8) + [10, 1, 0, 1, 0, 1] + Array("i5ee".utf8)
        let datagram = Array("d1:rd2:id20:mnopqrstuvwxyz1234565:nodes1040:".utf8) + nodes + Array("6:values".utf8) + values
            + Array("e1:t2:aa1:y1:re".utf8)
        let message = try KRPCMessage(decoding: datagram)
        guard case let .response(response) = message.body else {
            Issue.record("not a response")
            return
        }
        #expect(response.nodes.count == KRPCMessage.maxNodesPerFamily)
        #expect(response.values.count == KRPCMessage.maxValues)
        #expect(try KRPCMessage(decoding: message.encoded()) == message)
        var few: [UInt8] = Array("l".utf8)
        few += Array("5:abcde6:".utf8) + [10, 9, 9, 9, 0, 0] + Array("6:".utf8) + [10, 1, 0, 1, 0, 1]
        few += Array("6:".utf8) + [10, 1, 0, 1, 0, 1] + Array("i5e18:".utf8) + [UInt8](repeating: 0, count: 15) + [1, 0, 2] + Array("e".utf8)
        let small = try KRPCMessage(decoding: Array("d1:rd2:id20:mnopqrstuvwxyz1234566:values".utf8) + few + Array("e1:t2:aa1:y1:re".utf8))
        guard case let .response(smallResponse) = small.body else {
            Issue.record("not a response")
            return
        }
        #expect(smallResponse.values == [PeerAddress(host: "10.1.0.1", port: 1), PeerAddress(host: "::1", port: 2)])
    }
}
