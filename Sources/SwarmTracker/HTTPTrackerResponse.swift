import NIOCore
import SwarmBencode
import SwarmMetainfo

/// Parses the bencoded body of an HTTP announce response.
enum HTTPTrackerResponse {
    /// The interval assumed when a tracker omits `interval`.
    static let defaultInterval: Int64 = 1800
    /// Intervals are clamped to a week so a hostile value cannot stall re-announcing forever.
    static let maxInterval: Int64 = 7 * 24 * 3600

    /// Decodes `body` from tracker `url`.
    ///
    /// - Throws: `.failure` for a `failure reason`, `.malformedResponse` for anything that is not a
    ///   bencoded dictionary with a usable peer list.
    static func parse(_ body: [UInt8], url: String) throws(TrackerError) -> AnnounceResponse {
        let limits = BencodeLimits(maxDepth: 8, maxInputSize: max(body.count, 1), maxElementCount: 1_000_000)
        let value: BencodeValue
        do {
            value = try BencodeDecoder(limits: limits).decode(body)
        } catch {
            throw .malformedResponse(url: url, detail: "\(error)")
        }
        guard value.dictionary != nil else { throw .malformedResponse(url: url, detail: "not a dictionary") }
        if let reason = value["failure reason"] {
            throw .failure(url: url, reason: TrackerText.oneLine(reason.string ?? "(non-UTF-8 failure reason)"))
        }

        var peers: [PeerAddress] = []
        switch value["peers"] {
        case nil:
            break
        case let .bytes(compact)?:
            guard let decoded = CompactPeerList.decode(compact, addressLength: 4) else {
                throw .malformedResponse(url: url, detail: "compact peers of \(compact.count) bytes is not a multiple of 6")
            }
            peers += decoded
        case let .list(entries)?:
            peers += entries.compactMap(dictionaryPeer)
        case .some:
            throw .malformedResponse(url: url, detail: "peers is neither a string nor a list")
        }
        if let peers6 = value["peers6"] {
            guard let compact = peers6.bytes, let decoded = CompactPeerList.decode(compact, addressLength: 16) else {
                throw .malformedResponse(url: url, detail: "peers6 is not a multiple of 18 bytes")
            }
            peers += decoded
        }

        let interval = try seconds(value["interval"], default: defaultInterval, key: "interval", url: url)
        let minInterval: Duration? = if value["min interval"] != nil {
            try seconds(value["min interval"], default: 0, key: "min interval", url: url)
        } else {
            nil
        }
        return AnnounceResponse(
            interval: interval,
            minInterval: minInterval,
            peers: deduplicated(peers),
            trackerID: value["tracker id"]?.string,
            warning: value["warning message"]?.string.map { TrackerText.oneLine($0) },
            seeders: count(value["complete"]),
            leechers: count(value["incomplete"]))
    }

    /// A peer from the non-compact form `{ip, port, peer id}`; nil (skipped) unless `ip` is an IP
    /// literal and `port` a valid non-zero port — hostnames would need resolving, and are rare.
    private static func dictionaryPeer(_ entry: BencodeValue) -> PeerAddress? {
        guard let ip = entry["ip"]?.string, let port = entry["port"]?.integer, (1...65535).contains(port) else {
            return nil
        }
        let host = ip.hasPrefix("[") && ip.hasSuffix("]") ? String(ip.dropFirst().dropLast()) : ip
        guard (try? SocketAddress(ipAddress: host, port: Int(port))) != nil else { return nil }
        return PeerAddress(host: host, port: UInt16(port))
    }

    private static func seconds(
        _ value: BencodeValue?, default fallback: Int64, key: String, url: String
    ) throws(TrackerError) -> Duration {
        guard let value else { return .seconds(fallback) }
        guard let number = value.integer, number >= 0 else {
            throw .malformedResponse(url: url, detail: "\(key) is not a non-negative integer")
        }
        return .seconds(min(number, maxInterval))
    }

    private static func count(_ value: BencodeValue?) -> Int? {
        guard let number = value?.integer, number >= 0 else { return nil }
        return Int(clamping: number)
    }

    static func deduplicated(_ peers: [PeerAddress]) -> [PeerAddress] {
        var seen = Set<PeerAddress>()
        return peers.filter { seen.insert($0).inserted }
    }
}
