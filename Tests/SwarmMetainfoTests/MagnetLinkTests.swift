import SwarmMetainfo
import Testing

@Suite("MagnetLink")
struct MagnetLinkTests {
    static let hex = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"

    @Test("parses hex info-hash, name, trackers, peers and length")
    func full() throws {
        let link = try MagnetLink(parsing: "magnet:?xt=urn:btih:\(Self.hex.uppercased())&dn=Big+Buck%20Bunny"
            + "&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=udp://t.example:80&x.pe=127.0.0.1:6881&xl=1024&foo=bar")
        #expect(link.infoHash.hex == Self.hex)
        #expect(link.displayName == "Big Buck Bunny")
        #expect(link.trackers == ["http://127.0.0.1:6969/announce", "udp://t.example:80"])
        #expect(link.peers == ["127.0.0.1:6881"])
        #expect(link.exactLength == 1024)
        #expect(try MagnetLink(parsing: link.uri) == link)
    }

    @Test("parses a base32 info-hash")
    func base32() throws {
        // Base32 of the 20 bytes 0x00...0x13 (RFC 4648 alphabet).
        let link = try MagnetLink(parsing: "magnet:?xt=urn:btih:AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT")
        #expect(link.infoHash.bytes == Array(0...19))
        let lower = try MagnetLink(parsing: "magnet:?xt=urn:btih:aaaqeayeaudaocajbifqydiob4ibceqt")
        #expect(lower.infoHash == link.infoHash)
    }

    @Test("keeps web seeds (ws) and parses x.pe peers, IPv6 in brackets included")
    func webSeedsAndPeers() throws {
        let link = try MagnetLink(parsing: "magnet:?xt=urn:btih:\(Self.hex)&ws=http%3A%2F%2Fseed.example%2Fpath%2F"
            + "&x.pe=%5B2001%3Adb8%3A%3A1%5D%3A6881&x.pe=[::1]:51413&x.pe=10.0.0.1:1&x.pe=host.example:2"
            + "&x.pe=::1:6881&x.pe=10.0.0.1:1&ws=https://b.example/f")
        #expect(link.webSeeds == ["http://seed.example/path/", "https://b.example/f"])
        #expect(link.peers == ["[2001:db8::1]:6881", "[::1]:51413", "10.0.0.1:1", "host.example:2", "::1:6881", "10.0.0.1:1"])
        #expect(link.peerAddresses == [
            PeerAddress(host: "2001:db8::1", port: 6881), PeerAddress(host: "::1", port: 51413),
            PeerAddress(host: "10.0.0.1", port: 1), PeerAddress(host: "host.example", port: 2),
        ], "an unbracketed IPv6 peer is left out, a repeat too")
        #expect(try MagnetLink(parsing: link.uri) == link)
        #expect(link.uri.contains("&ws=http%3A%2F%2Fseed.example%2Fpath%2F"))
    }

    @Test("rejects what is not a usable magnet link",
          arguments: [
              ("http://example.com", MagnetError.notAMagnetLink),
              ("magnet:?dn=x", .missingInfoHash),
              ("magnet:?xt=urn:btih:1234", .invalidInfoHash("1234")),
              ("magnet:?xt=urn:btih:\(String(repeating: "z", count: 40))", .invalidInfoHash(String(repeating: "z", count: 40))),
              ("magnet:?xt=urn:btih:\(MagnetLinkTests.hex)&xl=-1", .invalidLength("-1")),
              ("magnet:?xt=urn:btih:\(MagnetLinkTests.hex)&dn=%zz", .invalidEncoding(parameter: "dn")),
              ("magnet:?xt=urn:btih:\(MagnetLinkTests.hex)&dn=%4", .invalidEncoding(parameter: "dn")),
              ("magnet:?xt=urn:btmh:1220abcd", .missingInfoHash),
          ])
    func rejects(input: String, expected: MagnetError) {
        #expect(throws: expected) { try MagnetLink(parsing: input) }
    }
}

@Suite("InfoHash")
struct InfoHashTests {
    @Test("hex and bytes constructors validate their input")
    func constructors() {
        #expect(InfoHash(hex: MagnetLinkTests.hex.uppercased())?.hex == MagnetLinkTests.hex)
        #expect(InfoHash(hex: "abc") == nil)
        #expect(InfoHash(hex: String(repeating: "g", count: 40)) == nil)
        #expect(InfoHash(bytes: [UInt8](repeating: 1, count: 19)) == nil)
        #expect(InfoHash(bytes: [UInt8](repeating: 1, count: 20))?.hex == String(repeating: "01", count: 20))
    }

    @Test("SHA-1 matches the FIPS 180 test vector")
    func sha1Vector() {
        #expect(InfoHash.sha1(of: Array("abc".utf8)).hex == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }
}
