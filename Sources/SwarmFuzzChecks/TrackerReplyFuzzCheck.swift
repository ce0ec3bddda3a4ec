import SwarmTracker

/// Tracker replies: a decoded announce has a bounded, non-negative interval, no duplicate peers,
/// no port 0, and (UDP) no more peers than the datagram has room for.
enum TrackerReplyFuzzCheck {
    private static let url = "fuzz://tracker"
    private static let week: Duration = .seconds(7 * 24 * 3600)

    static func runHTTP(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        guard let response = try? TrackerReplyDecoder.decodeHTTPAnnounce(input, url: url) else { return }
        try checkAnnounce(response, .httpTracker)
    }

    static func runUDP(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        _ = TrackerReplyDecoder.udpTransactionID(of: input)
        for ipv6 in [false, true] {
            guard case .announced(let response)? = try? TrackerReplyDecoder.decodeUDP(input, ipv6Peers: ipv6, url: url)
            else { continue }
            let room = max(0, input.count - 20) / (ipv6 ? 18 : 6)
            try require(response.peers.count <= room, .udpTracker,
                        "\(response.peers.count) peers from a \(input.count)-byte datagram")
            try checkAnnounce(response, .udpTracker)
        }
    }

    private static func checkAnnounce(_ response: AnnounceResponse, _ target: FuzzTarget)
        throws(FuzzInvariantViolation) {
        try require(response.interval >= .zero && response.interval <= week, target,
                    "interval \(response.interval)")
        if let minimum = response.minInterval {
            try require(minimum >= .zero && minimum <= week, target, "min interval \(minimum)")
        }
        try require(Set(response.peers).count == response.peers.count, target, "duplicate peers")
        try require(response.peers.allSatisfy { $0.port != 0 }, target, "a peer with port 0")
    }
}
