import SwarmMetainfo
import SwarmWire

/// BEP 14 announcements: a parsed one has a non-zero port, 1...`maxInfoHashes` distinct
/// info-hashes and a bounded printable cookie; it encodes and parses back to itself.
enum LocalDiscoveryFuzzCheck {
    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        guard let announcement = try? LocalDiscoveryAnnouncement(parsing: input) else { return }
        try require(announcement.port != 0, .lsd, "port 0")
        let hashes = announcement.infoHashes
        try require(!hashes.isEmpty && hashes.count <= LocalDiscoveryAnnouncement.maxInfoHashes
                        && Set(hashes).count == hashes.count, .lsd, "\(hashes.count) info-hashes")
        if let cookie = announcement.cookie {
            try require(cookie.utf8.count <= LocalDiscoveryAnnouncement.maxCookieLength
                            && cookie.utf8.allSatisfy { (0x21...0x7E).contains($0) }, .lsd, "cookie \(cookie)")
        }
        let again = try? LocalDiscoveryAnnouncement(parsing: announcement.encoded())
        try require(again == announcement, .lsd, "encode -> parse changed the announcement")
    }
}
