import Foundation
import SwarmMetainfo
import SwarmWire
import Testing

@Suite struct LocalDiscoveryAnnouncementTests {
    let hash = InfoHash(hex: "60b9057e65fe391a163629bb4365cd27dc5e3da0")!

    @Test func parsesWhatBEP14Shows() throws {
        let datagram = "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: \(hash.hex)\r\n"
            + "cookie: abc-1\r\n\r\n\r\n"
        let announcement = try LocalDiscoveryAnnouncement(parsing: Array(datagram.utf8))
        #expect(announcement == LocalDiscoveryAnnouncement(port: 6881, infoHashes: [hash], cookie: "abc-1"))
        #expect(try LocalDiscoveryAnnouncement(parsing: announcement.encoded()) == announcement)
    }

    @Test func headerNamesAnyCaseBareNewlinesAndJunkSkipped() throws {
        let other = InfoHash(hex: String(repeating: "11", count: 20))!
        let datagram = "BT-SEARCH * HTTP/1.1\nPORT:  51413 \nINFOHASH: \(hash.hex.uppercased())\ninfohash: zz\n"
            + "Infohash: \(other.hex)\nInfohash: \(hash.hex)\nX-Junk\ncookie: has space\n\n"
        let announcement = try LocalDiscoveryAnnouncement(parsing: Array(datagram.utf8))
        #expect(announcement.port == 51413)
        #expect(announcement.infoHashes == [hash, other])
        #expect(announcement.cookie == nil)
    }

    @Test func refusesWhatIsNotAnAnnouncement() {
        #expect(throws: LocalDiscoveryAnnouncement.ParseError.notAnAnnouncement) {
            try LocalDiscoveryAnnouncement(parsing: Array("M-SEARCH * HTTP/1.1\r\n\r\n".utf8))
        }
        #expect(throws: LocalDiscoveryAnnouncement.ParseError.badPort) {
            try LocalDiscoveryAnnouncement(parsing: Array("BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: \(hash.hex)\r\n\r\n".utf8))
        }
        #expect(throws: LocalDiscoveryAnnouncement.ParseError.noInfoHash) {
            try LocalDiscoveryAnnouncement(parsing: Array("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n".utf8))
        }
        #expect(throws: LocalDiscoveryAnnouncement.ParseError.tooLarge(2000)) {
            try LocalDiscoveryAnnouncement(parsing: [UInt8](repeating: 0x41, count: 2000))
        }
    }

    @Test func keepsAtMostSixteenInfoHashes() throws {
        var datagram = "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n"
        for index in 0..<24 { datagram += "Infohash: \(String(format: "%040x", index))\r\n" }
        let announcement = try LocalDiscoveryAnnouncement(parsing: Array(datagram.utf8))
        #expect(announcement.infoHashes.count == LocalDiscoveryAnnouncement.maxInfoHashes)
    }
}
