import NIOCore
import SwarmMetainfo
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

    @Test("the BEP 9 example handshake decodes")
    func bep9Example() throws {
        // {'m': {'ut_metadata', 3}, 'metadata_size': 31235}
        let decoded = try ExtensionHandshake(decoding: ByteBuffer(string: "d1:md11:ut_metadatai3ee13:metadata_sizei31235ee"))
        #expect(decoded.messageID(for: ExtensionHandshake.metadataExtension) == 3)
        #expect(decoded.messageID(for: ExtensionHandshake.pexExtension) == nil)
        #expect(decoded.metadataSize == 31235)
        #expect(Array(decoded.encoded().readableBytesView) == Array("d1:md11:ut_metadatai3ee13:metadata_sizei31235ee".utf8))
    }

    @Test("an id of 0 disables an extension")
    func disabled() throws {
        let decoded = try ExtensionHandshake(decoding: ByteBuffer(string: "d1:md6:ut_pexi0eee"))
        #expect(decoded.m["ut_pex"] == 0 && decoded.messageID(for: "ut_pex") == nil)
    }

    @Test("hostile sizes are dropped: too many names, long names, a long v, metadata_size over 32 MiB")
    func caps() throws {
        let long = String(repeating: "n", count: 65)
        var names = "\(long.count):\(long)i9e"
        for index in 0..<200 {
            let digits = String(index)
            let name = "x" + String(repeating: "0", count: 3 - digits.count) + digits
            names += "\(name.utf8.count):\(name)i\(index + 1)e"
        }
        let version = String(repeating: "v", count: 129)
        let text = "d1:md\(names)e13:metadata_sizei33554433e1:v\(version.count):\(version)"
            + "6:yourip5:abcdee"
        let decoded = try ExtensionHandshake(decoding: ByteBuffer(string: text))
        #expect(decoded.m.count == ExtensionHandshake.maxExtensionCount)
        #expect(decoded.m[long] == nil && decoded.m["x000"] == 1)
        #expect(decoded.metadataSize == nil && decoded.clientName == nil && decoded.yourIP == nil)
        let atCap = try ExtensionHandshake(decoding: ByteBuffer(string: "d13:metadata_sizei33554432e6:yourip4:\u{0A}\u{00}\u{00}\u{01}e"))
        #expect(atCap.metadataSize == MetadataLayout.maxTotalSize)
        #expect(atCap.yourIPAddress == IPAddress(text: "10.0.0.1"))
        for value in ["-1", "0", "9223372036854775807"] {
            let handshake = try ExtensionHandshake(decoding: ByteBuffer(string: "d13:metadata_sizei\(value)e4:reqqi\(value)ee"))
            #expect(handshake.metadataSize == nil)
            #expect(handshake.reqq == (value == "9223372036854775807" ? ExtensionHandshake.maxRequestQueue : nil))
        }
        #expect(throws: PeerWireError.self, "over 32 KiB is refused before decoding") {
            try ExtensionHandshake(decoding: ByteBuffer(bytes: [UInt8](repeating: 0x64, count: ExtensionHandshake.maxEncodedLength + 1)))
        }
    }

    @Test("garbage and non-dictionaries are refused", arguments: ["", "i42e", "l1:ae", "d1:m", "xyz"])
    func garbage(text: String) {
        #expect(throws: PeerWireError.self) {
            try ExtensionHandshake(decoding: ByteBuffer(bytes: Array(text.utf8)))
        }
    }
}
