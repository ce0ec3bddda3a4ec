import NIOCore
import SwarmMetainfo
import Testing
@testable import SwarmTracker

@Suite("Announce encoding: HTTP query and BEP 15 packets")
struct AnnounceEncodingTests {
    private let infoHash = InfoHash(bytes: [0x00, 0x7E, 0x20, 0xFF, 0x41, 0x2D, 0x2E, 0x5F, 0x7E, 0x25] + [UInt8](repeating: 0x80, count: 10))!

    private var request: AnnounceRequest {
        AnnounceRequest(
            infoHash: infoHash, peerID: Array("-SF0100-abc def~/+%0".utf8), port: 6881, uploaded: 1, downloaded: 2,
            left: 3, event: .started, numWant: 80, key: 0xDEADBEEF, trackerID: "t id")
    }

    @Test("info_hash and peer_id are percent-encoded byte by byte; only unreserved bytes stay")
    func httpQuery() {
        let url = HTTPAnnounceURL.make(base: "http://t.test/announce", request: request)
        #expect(url.hasPrefix("http://t.test/announce?info_hash=%00~%20%FFA-._~%25" + String(repeating: "%80", count: 10) + "&"))
        #expect(url.contains("&peer_id=-SF0100-abc%20def~%2F%2B%250&"))
        for parameter in ["port=6881", "uploaded=1", "downloaded=2", "left=3", "compact=1", "numwant=80", "key=DEADBEEF", "event=started", "trackerid=t%20id"] {
            #expect(url.contains("&" + parameter), "\(parameter)")
        }
    }

    @Test("an announce URL that already has a query gets & and keeps its fragment last")
    func existingQuery() {
        var plain = request
        plain.event = .none
        plain.trackerID = nil
        let url = HTTPAnnounceURL.make(base: "https://t.test/a?passkey=abc#frag", request: plain)
        #expect(url.hasPrefix("https://t.test/a?passkey=abc&info_hash="))
        #expect(url.hasSuffix("#frag"))
        #expect(!url.contains("event="))
        #expect(!url.contains("trackerid="))
    }

    @Test("BEP 15 connect request: magic, action 0, transaction id")
    func connectPacket() {
        let packet = UDPTrackerPacket.connectRequest(transactionID: 0x01020304)
        #expect(Array(packet.readableBytesView) == [0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 1, 2, 3, 4])
    }

    @Test("BEP 15 announce request: 98 bytes with every field at its offset")
    func announcePacket() {
        let packet = UDPTrackerPacket.announceRequest(connectionID: 0x1122334455667788, transactionID: 7, request: request)
        #expect(packet.readableBytes == 98)
        #expect(packet.getInteger(at: 0, as: UInt64.self) == 0x1122334455667788)
        #expect(packet.getInteger(at: 8, as: UInt32.self) == 1)
        #expect(packet.getInteger(at: 12, as: UInt32.self) == 7)
        #expect(packet.getBytes(at: 16, length: 20) == infoHash.bytes)
        #expect(packet.getBytes(at: 36, length: 20) == request.peerID)
        #expect(packet.getInteger(at: 56, as: UInt64.self) == 2)  // downloaded
        #expect(packet.getInteger(at: 64, as: UInt64.self) == 3)  // left
        #expect(packet.getInteger(at: 72, as: UInt64.self) == 1)  // uploaded
        #expect(packet.getInteger(at: 80, as: UInt32.self) == 2)  // started
        #expect(packet.getInteger(at: 84, as: UInt32.self) == 0)  // IP: sender's
        #expect(packet.getInteger(at: 88, as: UInt32.self) == 0xDEADBEEF)
        #expect(packet.getInteger(at: 92, as: Int32.self) == 80)
        #expect(packet.getInteger(at: 96, as: UInt16.self) == 6881)
    }

    @Test("BEP 15 replies: connect, IPv4 and IPv6 announce, error, garbage")
    func udpReplies() throws {
        var connect = ByteBuffer()
        connect.writeMultipleIntegers(UInt32(0), UInt32(9), UInt64(0xABCDEF))
        #expect(try UDPTrackerPacket.parse(connect, ipv6Peers: false, url: "u") == .connected(connectionID: 0xABCDEF))

        var announce = ByteBuffer()
        announce.writeMultipleIntegers(UInt32(1), UInt32(9), UInt32(120), UInt32(4), UInt32(6))
        announce.writeBytes([127, 0, 0, 2, 0x1A, 0xE1, 127, 0, 0, 3, 0x1A, 0xE2, 9])  // trailing partial entry
        guard case let .announced(response) = try UDPTrackerPacket.parse(announce, ipv6Peers: false, url: "u") else {
            Issue.record("expected an announce reply")
            return
        }
        #expect(response.peers == [PeerAddress(host: "127.0.0.2", port: 6881), PeerAddress(host: "127.0.0.3", port: 6882)])
        #expect(response.interval == .seconds(120) && response.leechers == 4 && response.seeders == 6)

        var announce6 = ByteBuffer()
        announce6.writeMultipleIntegers(UInt32(1), UInt32(9), UInt32(60), UInt32(0), UInt32(1))
        announce6.writeBytes([UInt8](repeating: 0, count: 15) + [1, 0x00, 0x50])
        guard case let .announced(response6) = try UDPTrackerPacket.parse(announce6, ipv6Peers: true, url: "u") else {
            Issue.record("expected an announce reply")
            return
        }
        #expect(response6.peers == [PeerAddress(host: "::1", port: 80)])

        var error = ByteBuffer()
        error.writeMultipleIntegers(UInt32(3), UInt32(9))
        error.writeString("unregistered torrent")
        #expect(try UDPTrackerPacket.parse(error, ipv6Peers: false, url: "u") == .error("unregistered torrent"))

        for garbage: [UInt8] in [[], [0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 9], [0, 0, 0, 1, 0, 0, 0, 9, 0, 0], [0, 0, 0, 7, 0, 0, 0, 9]] {
            #expect(throws: TrackerError.self) { try UDPTrackerPacket.parse(ByteBuffer(bytes: garbage), ipv6Peers: false, url: "u") }
        }
    }

    @Test("tracker URLs: schemes, ports, IPv6 hosts; others are refused")
    func trackerURLs() throws {
        let udp = try TrackerURL("udp://tracker.test:6969/announce")
        #expect(udp.scheme == .udp && udp.host == "tracker.test" && udp.port == 6969)
        let v6 = try TrackerURL("udp://[::1]:1337")
        #expect(v6.host == "::1" && v6.port == 1337)
        #expect(try TrackerURL("HTTPS://t.test/announce?x=1").port == 443)
        #expect(try TrackerURL("http://t.test:8080").port == 8080)
        for bad in ["wss://t.test/announce", "udp://t.test/announce", "udp://t.test:0", "udp://:80", "tracker.test", "udp://[::1/x", "http://t.test:99999/"] {
            #expect(throws: TrackerError.unsupportedScheme(bad)) { try TrackerURL(bad) }
        }
    }

    @Test("the UDP retransmit schedule is base · 2^n")
    func retransmitSchedule() {
        let bep15 = UDPRetransmitPolicy.bep15
        #expect(bep15.wait(forAttempt: 0) == .seconds(15))
        #expect(bep15.wait(forAttempt: 3) == .seconds(120))
        #expect(bep15.wait(forAttempt: 8) == .seconds(3840))
    }
}
