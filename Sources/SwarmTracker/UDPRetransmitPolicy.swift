/// BEP 15 retransmission: wait `base · 2^n` for the n-th attempt, for n up to `maxRetransmits`.
public struct UDPRetransmitPolicy: Sendable, Hashable {
    /// The first wait (BEP 15: 15 s). Tests use milliseconds.
    public var base: Duration
    /// Retransmissions after the first attempt (BEP 15: 8, i.e. about an hour in total).
    public var maxRetransmits: Int

    /// BEP 15's schedule.
    public static let bep15 = UDPRetransmitPolicy(base: .seconds(15), maxRetransmits: 8)

    /// Creates a policy.
    public init(base: Duration, maxRetransmits: Int) {
        self.base = base
        self.maxRetransmits = max(0, maxRetransmits)
    }

    /// How long to wait for an answer to attempt `attempt` (0-based).
    public func wait(forAttempt attempt: Int) -> Duration {
        base * (1 << min(max(0, attempt), 16))
    }
}
