import SwarmPieces

/// What the choker knows of one connected peer.
struct ChokeCandidate: Sendable, Equatable {
    let key: PeerKey
    /// The peer wants data from us.
    let interested: Bool
    /// Bytes per second the peer sends us (reciprocation, while we download).
    let downloadRate: Double
    /// Bytes per second we send the peer (while we only seed).
    let uploadRate: Double
    /// The peer has sent us nothing for a minute although we asked: it gets no regular slot.
    let snubbed: Bool
}

/// Chooses whom we upload to, the BitTorrent way (BEP 3's spirit, as libtorrent and Transmission
/// do it): a few regular slots for the interested peers that give us the most (or, when we only
/// seed, that take the most), plus one optimistic slot that rotates so newcomers get a chance.
/// Pure logic: the Foreman calls it every 10 s and rotates the optimistic slot every 30 s.
struct Choker: Sendable {
    var regularSlots: Int
    private(set) var optimistic: PeerKey?

    init(regularSlots: Int = 4) {
        self.regularSlots = regularSlots
    }

    /// The peers to unchoke now; everyone else is choked.
    mutating func decide(_ candidates: [ChokeCandidate], seeding: Bool, rotateOptimistic: Bool,
                         using random: inout some RandomNumberGenerator) -> Set<PeerKey> {
        let interested = candidates.filter(\.interested)
        let ranked = interested
            .filter { !$0.snubbed }
            .sorted { lhs, rhs in
                let l = seeding ? lhs.uploadRate : lhs.downloadRate
                let r = seeding ? rhs.uploadRate : rhs.downloadRate
                return l != r ? l > r : lhs.key < rhs.key
            }
        var unchoked = Set(ranked.prefix(regularSlots).map(\.key))
        let others = interested.filter { !unchoked.contains($0.key) }
        let current = others.first { $0.key == optimistic }
        if rotateOptimistic || current == nil {
            optimistic = others.randomElement(using: &random)?.key
        }
        if let optimistic, others.contains(where: { $0.key == optimistic }) { unchoked.insert(optimistic) }
        return unchoked
    }
}

/// A token bucket for `--max-upload-rate` / `--max-download-rate`: `rate` bytes per second with
/// up to one second of burst, so by time T at most `rate · (T + 1)` bytes have been spent. A rate
/// of 0 means no limit.
struct TokenBucket: Sendable {
    let rate: Int64
    private(set) var tokens: Int64

    init(bytesPerSecond rate: Int64) {
        self.rate = max(0, rate)
        tokens = self.rate
    }

    var isLimited: Bool { rate > 0 }

    /// Whether `bytes` may go now (no limit, or tokens left; a debt is paid back by later refills).
    var canSpend: Bool { !isLimited || tokens > 0 }

    mutating func spend(_ bytes: Int) {
        guard isLimited else { return }
        tokens -= Int64(bytes)
    }

    mutating func refill(seconds: Double) {
        guard isLimited else { return }
        tokens = min(rate, tokens + Int64(Double(rate) * seconds))
    }
}
