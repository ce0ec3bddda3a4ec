import NIOCore

/// Every peer address we know of, with back-off for those that refuse or drop us.
/// Confined to the event loop.
final class PeerDirectory {
    struct Candidate {
        let host: String
        let port: UInt16
        var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
        var failures = 0
        var retryAt = NIODeadline.uptimeNanoseconds(0)
        var connected = false
        var banned = false
    }

    private var candidates: [String: Candidate] = [:]
    private var order: [String] = []

    var count: Int { candidates.count }

    func add(host: String, port: UInt16) {
        guard port != 0 else { return }
        let candidate = Candidate(host: host, port: port)
        guard candidates[candidate.address] == nil else { return }
        candidates[candidate.address] = candidate
        order.append(candidate.address)
    }

    /// The next address worth trying now, marked as in use.
    func nextCandidate(now: NIODeadline) -> Candidate? {
        for address in order {
            guard var candidate = candidates[address], !candidate.connected, !candidate.banned,
                  candidate.retryAt <= now else { continue }
            candidate.connected = true
            candidates[address] = candidate
            return candidate
        }
        return nil
    }

    func connected(_ address: String) {
        candidates[address]?.connected = true
    }

    /// A connection attempt failed: try again after 5 s, doubling up to 5 minutes.
    func failed(_ address: String) {
        guard var candidate = candidates[address] else { return }
        candidate.connected = false
        candidate.failures += 1
        let delay = min(5 << min(candidate.failures - 1, 6), 300)
        candidate.retryAt = .now() + .seconds(Int64(delay))
        candidates[address] = candidate
    }

    /// A connection ended. A peer that gave us data may come back soon; one that did not waits longer.
    func disconnected(_ address: String, wasUseful: Bool) {
        guard var candidate = candidates[address] else { return }
        candidate.connected = false
        if wasUseful {
            candidate.failures = 0
            candidate.retryAt = .now() + .seconds(2)
            candidates[address] = candidate
        } else {
            candidates[address] = candidate
            failed(address)
        }
    }

    /// Never connect to this address again in this session (a liar, or ourselves).
    func ban(_ address: String) {
        candidates[address]?.banned = true
    }
}
