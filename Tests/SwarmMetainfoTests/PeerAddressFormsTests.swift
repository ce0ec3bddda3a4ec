import SwarmMetainfo
import Testing

@Suite("PeerAddress text and compact forms")
struct PeerAddressFormsTests {
    @Test("host:port, ipv4:port and [ipv6]:port parse",
          arguments: [
              ("127.0.0.1:6881", "127.0.0.1", UInt16(6881)),
              ("[::1]:6881", "::1", 6881),
              ("[2001:DB8::0:1]:1", "2001:db8::1", 1),
              ("tracker.example.org:65535", "tracker.example.org", 65535),
              ("localhost:80", "localhost", 80),
          ])
    func parses(text: String, host: String, port: UInt16) {
        #expect(PeerAddress(parsing: text) == PeerAddress(host: host, port: port))
    }

    @Test("bad ports, bare IPv6, bad brackets and look-alike numbers are refused",
          arguments: ["127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+80", "127.0.0.1:-1",
                      "127.0.0.1:080000", "::1:6881", "[::1:6881", "::1]:6881", "[]:6881", "[1.2.3.4]:6881",
                      "[example.com]:1", ":6881", "010.0.0.1:80", "1.2.3:80", "a b:80", "a\u{7F}:80",
                      String(repeating: "a", count: 254) + ":80"])
    func refused(text: String) {
        #expect(PeerAddress(parsing: text) == nil)
    }

    @Test("the text form prints back")
    func description() throws {
        for text in ["192.0.2.1:6881", "[2001:db8::1]:6881", "host.example:1"] {
            #expect(try #require(PeerAddress(parsing: text)).description == text)
        }
    }

    @Test("compact lists decode, dropping port 0 and repeats, and encode back")
    func compact() throws {
        let bytes: [UInt8] = [127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 0, 127, 0, 0, 1, 0x1a, 0xe1, 192, 168, 1, 1, 0, 80]
        let peers = try #require(PeerAddress.decodeCompactList(bytes, addressLength: 4))
        #expect(peers == [PeerAddress(host: "127.0.0.1", port: 6881), PeerAddress(host: "192.168.1.1", port: 80)])
        #expect(PeerAddress.encodeCompactList(peers, addressLength: 4) == Array(bytes[0..<6]) + Array(bytes[18...]))
        let six = [UInt8](repeating: 0, count: 15) + [1, 0x1a, 0xe1]
        #expect(PeerAddress.decodeCompactList(six, addressLength: 16) == [PeerAddress(host: "::1", port: 6881)])
        #expect(PeerAddress(host: "::1", port: 6881).compactBytes == six)
    }

    @Test("a cut-short compact list is refused and a long one is capped")
    func hostileCompact() {
        #expect(PeerAddress.decodeCompactList([1, 2, 3, 4, 5], addressLength: 4) == nil)
        #expect(PeerAddress.decodeCompactList([UInt8](repeating: 1, count: 17), addressLength: 16) == nil)
        #expect(PeerAddress.decodeCompactList([1, 2, 3, 4, 5, 6], addressLength: 5) == nil)
        var many: [UInt8] = []
        for index in 0..<1000 { many += [10, 0, UInt8(index >> 8), UInt8(index & 0xff), 0, 1] }
        #expect(PeerAddress.decodeCompactList(many, addressLength: 4, limit: 50)?.count == 50)
        #expect(PeerAddress.decodeCompactList(many, addressLength: 4)?.count == 1000)
        #expect(PeerAddress(host: "example.com", port: 1).compactBytes == nil)
        #expect(PeerAddress.encodeCompactList([PeerAddress(host: "::1", port: 1)], addressLength: 4) == nil)
    }
}
