/// Timing policy of a `TrackerSet`.
public struct TrackerSetConfiguration: Sendable, Hashable {
    /// The deadline of one announce to one tracker (including UDP retransmissions).
    public var announceTimeout: Duration
    /// Options passed to every tracker client.
    public var clientOptions: TrackerClientOptions
    /// The shortest regular interval honoured, whatever a tracker says.
    public var minimumInterval: Duration
    /// When more peers are needed, announce again this soon (still no sooner than `min interval`).
    public var peerHungryInterval: Duration
    /// After every tracker failed, retry after `failureBackoffBase · 2^(failures-1)`...
    public var failureBackoffBase: Duration
    /// ...capped here.
    public var failureBackoffCap: Duration

    /// Creates a configuration.
    public init(
        announceTimeout: Duration = .seconds(20),
        clientOptions: TrackerClientOptions = TrackerClientOptions(udpRetransmit: UDPRetransmitPolicy(base: .seconds(5), maxRetransmits: 2)),
        minimumInterval: Duration = .seconds(30),
        peerHungryInterval: Duration = .seconds(60),
        failureBackoffBase: Duration = .seconds(15),
        failureBackoffCap: Duration = .seconds(1800)
    ) {
        self.announceTimeout = announceTimeout
        self.clientOptions = clientOptions
        self.minimumInterval = minimumInterval
        self.peerHungryInterval = peerHungryInterval
        self.failureBackoffBase = failureBackoffBase
        self.failureBackoffCap = failureBackoffCap
    }
}
