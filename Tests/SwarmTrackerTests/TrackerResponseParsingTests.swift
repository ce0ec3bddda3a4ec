import NIOCore
import SwarmBencode
import SwarmMetainfo
import Testing
@testable import SwarmTracker

@Suite("HTTP tracker responses from byte fixtures")
struct TrackerResponseParsingTests {
    private let url = "http://tracker.test/announce"

    private func parse(_ text: String) throws(TrackerError) -> AnnounceResponse {
        try HTTPTrackerResponse.parse(Array(text.utf8), url: url)
    }

    private func parse(_ bytes: [UInt8]) throws(TrackerError) -> AnnounceResponse {
        try HTTPTrackerResponse.parse(bytes, url: url)
    }

    @Test("compact IPv4 peers (BEP 23), counts, intervals and tracker id")
    func compact() throws {
        let body = Array("d8:completei5e10:incompletei3e8:intervali1800e12:min intervali60e5:peers12:".utf8)
            + [10, 0, 0, 1, 0x1A, 0xE1, 192, 168, 1, 200, 0xC8, 0xD5]
            + Array("10:tracker id3:xyze".utf8)
        let response = try parse(body)
        #expect(response.peers == [PeerAddress(host: "10.0.0.1", port: 6881), PeerAddress(host: "192.168.1.200", port: 51413)])
        #expect(response.interval == .seconds(1800))
        #expect(response.minInterval == .seconds(60))
        #expect(response.seeders == 5 && response.leechers == 3)
        #expect(response.trackerID == "xyz")
        #expect(response.warning == nil)
    }

    @Test("the dictionary peer list form, skipping unusable entries")
    func dictionaryPeers() throws {
        let response = try parse(
            "d8:intervali900e5:peersld2:ip8:10.1.2.37:peer id20:abcdefghijklmnopqrst4:porti6881eed2:ip11:example.org4:porti1eed2:ip3:::14:porti443eed2:ip8:10.9.9.94:porti0eed2:ip8:10.9.9.94:porti70000eeee")
        #expect(response.peers == [PeerAddress(host: "10.1.2.3", port: 6881), PeerAddress(host: "::1", port: 443)])
        #expect(response.interval == .seconds(900))
        #expect(response.minInterval == nil)
    }

    @Test("peers6 (BEP 7) next to peers, de-duplicated")
    func peers6() throws {
        let v6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1A, 0xE1]
        let body = Array("d8:intervali60e5:peers12:".utf8) + [1, 2, 3, 4, 0, 80, 1, 2, 3, 4, 0, 80]
            + Array("6:peers636:".utf8) + v6 + v6 + Array("e".utf8)
        let response = try parse(body)
        #expect(response.peers == [PeerAddress(host: "1.2.3.4", port: 80), PeerAddress(host: "2001:db8::1", port: 6881)])
        #expect(response.peers[1].description == "[2001:db8::1]:6881")
    }

    @Test("failure reason becomes a failure error naming the tracker")
    func failure() {
        #expect(throws: TrackerError.failure(url: url, reason: "Requested download is not authorized for use with this tracker.")) {
            try parse("d14:failure reason63:Requested download is not authorized for use with this tracker.e")
        }
    }

    @Test("warning message is carried alongside peers")
    func warning() throws {
        let response = try parse("d8:intervali120e5:peers0:15:warning message11:be careful!e")
        #expect(response.warning == "be careful!")
        #expect(response.peers.isEmpty)
    }

    @Test("a missing interval falls back to 30 minutes; huge ones are clamped")
    func intervals() throws {
        #expect(try parse("d5:peers0:e").interval == .seconds(1800))
        #expect(try parse("d8:intervali99999999999e5:peers0:e").interval == .seconds(7 * 24 * 3600))
    }

    @Test("garbage is a malformed response", arguments: [
        "", "<html>500 Internal Server Error</html>", "i42e", "d8:intervali-5e5:peers0:e", "d5:peers5:abcdee",
        "d5:peersi3ee", "d8:interval3:abc5:peers0:e", "d8:intervali60e6:peers61:xe", "d8:intervali60e5:peers0:",
    ])
    func garbage(text: String) {
        #expect(throws: TrackerError.self) { try parse(text) }
        do {
            _ = try parse(text)
        } catch {
            guard case .malformedResponse(let errorURL, _) = error else {
                Issue.record("expected malformedResponse, got \(error)")
                return
            }
            #expect(errorURL == url)
        }
    }

    @Test("compact peers with port 0 are dropped")
    func zeroPort() throws {
        let body = Array("d8:intervali60e5:peers12:".utf8) + [1, 1, 1, 1, 0, 0, 2, 2, 2, 2, 0, 1] + Array("e".utf8)
        #expect(try parse(body).peers == [PeerAddress(host: "2.2.2.2", port: 1)])
    }

    @Test("seeded random and mutated responses never trap either parser", arguments: [UInt64(7), 99, 2024])
    func fuzz(seed: UInt64) async {
        var random = SplitMix64(seed: seed)
        let valid = Array("d8:completei5e10:incompletei3e8:intervali1800e12:min intervali60e5:peers12:".utf8)
            + [10, 0, 0, 1, 0x1A, 0xE1, 192, 168, 1, 200, 0xC8, 0xD5] + Array("6:peers618:".utf8)
            + [UInt8](repeating: 1, count: 18) + Array("10:tracker id3:xyze".utf8)
        for round in 0..<300 {
            if round % 20 == 0 { await Task.yield() }  // CPU-bound: let timing-sensitive tests run
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            } else {
                bytes = valid
                for _ in 0..<Int.random(in: 1...6, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            }
            _ = try? HTTPTrackerResponse.parse(bytes, url: url)
            _ = try? UDPTrackerPacket.parse(ByteBuffer(bytes: bytes), ipv6Peers: round % 3 == 0, url: url)
        }
    }
}
