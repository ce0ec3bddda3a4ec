import SwarmMetainfo
import Testing

@Suite struct PeerIdentityTests {
    @Test("generated peer ids carry the client prefix and are 20 bytes")
    func peerIDGeneration() {
        let first = PeerID.generate()
        let second = PeerID.generate()
        #expect(first.bytes.count == 20 && Array(first.bytes.prefix(8)) == Array("-SF0100-".utf8))
        #expect(first != second)
        var generatorA = SplitMix64(seed: 1)
        var generatorB = SplitMix64(seed: 1)
        #expect(PeerID.generate(prefix: "-AB1234-", using: &generatorA) == PeerID.generate(prefix: "-AB1234-", using: &generatorB))
        #expect(PeerID.generate(prefix: String(repeating: "x", count: 30)).bytes.count == 20)
        #expect(PeerID(bytes: [1, 2, 3]) == nil)
    }

    @Test("peer addresses print IPv6 hosts in brackets")
    func peerAddressDescription() {
        #expect(PeerAddress(host: "192.0.2.1", port: 6881).description == "192.0.2.1:6881")
        #expect(PeerAddress(host: "2001:db8::1", port: 6881).description == "[2001:db8::1]:6881")
    }
}

