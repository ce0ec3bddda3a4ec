import Crypto
import SwarmMetainfo

/// The write tokens a node hands out in `get_peers` responses and checks in `announce_peer`
/// (BEP 5): a hash of the querying node's IP address and a secret that changes every five
/// minutes; a token made with the current or the previous secret is accepted, so a token lives
/// between five and ten minutes.
///
/// The secret of each five-minute epoch since `origin` is derived from one random seed, so the
/// value needs no rotating by hand: the epoch is read off the injected time.
///
/// Invariant: `seed` is `seedLength` random bytes, fixed for the value's life.
public struct TokenSecret: Sendable {
    /// How often the secret changes.
    public static let rotationInterval: Duration = .seconds(5 * 60)
    /// The length of a token.
    public static let tokenLength = 8
    private static let seedLength = 20

    private let seed: [UInt8]
    private let origin: ContinuousClock.Instant

    /// A secret whose epochs start at `origin`, seeded from `generator`.
    public init(origin: ContinuousClock.Instant, using generator: inout some RandomNumberGenerator) {
        self.origin = origin
        seed = (0..<Self.seedLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// The token for a node at `ip`, made with the secret current at `now`.
    public func token(for ip: IPAddress, now: ContinuousClock.Instant) -> [UInt8] {
        token(for: ip, epoch: epoch(at: now))
    }

    /// True when `token` was made for `ip` with the secret current at `now` or the one before.
    public func accepts(_ token: [UInt8], for ip: IPAddress, now: ContinuousClock.Instant) -> Bool {
        guard token.count == Self.tokenLength else { return false }
        let current = epoch(at: now)
        var accepted = Self.equalInConstantTime(token, self.token(for: ip, epoch: current))
        if current > 0 {
            accepted = Self.equalInConstantTime(token, self.token(for: ip, epoch: current - 1)) || accepted
        }
        return accepted
    }

    /// Which five-minute secret is current at `now` (0 before `origin`).
    private func epoch(at now: ContinuousClock.Instant) -> Int64 {
        let elapsed = (now - origin).components.seconds
        return max(0, elapsed) / Int64(Self.rotationInterval.components.seconds)
    }

    private func token(for ip: IPAddress, epoch: Int64) -> [UInt8] {
        var hasher = Insecure.SHA1()
        hasher.update(data: seed)
        hasher.update(data: (0..<8).map { UInt8(truncatingIfNeeded: epoch >> (56 - 8 * $0)) })
        hasher.update(data: ip.bytes)
        return Array(hasher.finalize().prefix(Self.tokenLength))
    }

    /// Compares without stopping at the first difference, so timing does not leak how much of a
    /// guessed token is right.
    private static func equalInConstantTime(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
