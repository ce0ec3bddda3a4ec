import NIOCore
import Testing
@testable import SwarmWire

@Suite("BEP 10 extension handshake")
struct ExtensionHandshakeTests {
    @Test("encodes and decodes every field")
    func roundTrip() throws {
        let original = ExtensionHandshake(
            m: ["ut_metadata": 3, "ut_pex": 1], clientName: "swarmfs 0.1", reqq: 500, listenPort: 6881,
            yourIP: [127, 0, 0, 1], metadataSize: 12345)
        let decoded = try ExtensionHandshake(decoding: original.encoded())
        #expect(decoded == original)
    }

    @Test("decodes a libtorrent-style dictionary, ignoring unknown and ill-typed keys")
    func lenientDecode() throws {
        let text = "d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1e7:bogus_xi999ee13:metadata_sizei31235e4:reqqi500e11:upload_onlyi1e1:v17:libtorrent 2.0.8 6:yourip4:\u{7F}\u{00}\u{00}\u{01}1:p5:notanee"
        let decoded = try ExtensionHandshake(decoding: ByteBuffer(bytes: Array(text.utf8)))
        #expect(decoded.m["ut_metadata"] == 2)
        #expect(decoded.m["ut_pex"] == 1)
        #expect(decoded.m["bogus_x"] == nil, "ids above 255 are dropped")
        #expect(decoded.reqq == 500)
        #expect(decoded.metadataSize == 31235)
        #expect(decoded.clientName == "libtorrent 2.0.8 ")
        #expect(decoded.yourIP == [127, 0, 0, 1])
        #expect(decoded.listenPort == nil, "a non-integer port is ignored")
    }

    @Test("garbage and non-dictionaries are refused", arguments: ["", "i42e", "l1:ae", "d1:m", "xyz"])
    func garbage(text: String) {
        #expect(throws: PeerWireError.self) {
            try ExtensionHandshake(decoding: ByteBuffer(bytes: Array(text.utf8)))
        }
    }
}
