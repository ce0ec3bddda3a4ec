/// Path MTU discovery for one uTP connection by probing (RFC 4821's packetization-layer search,
/// the way libtorrent does it for uTP). Ordinary packets carry `floor` payload bytes, a size known
/// to cross the path; now and then one packet, the probe, carries more and goes with
/// don't-fragment set. Acked, the floor rises to its size; lost, the ceiling falls below it.
///
/// Needs no ICMP: a tunnel or firewall that drops big packets without a word is measured the same
/// way as one that answers "fragmentation needed". Only the probe risks being too big, and it is
/// sent again at its size but fragmentable, so a path that black-holes it costs one resend, never
/// the connection. The first probe tries the ceiling itself (most paths carry 1500-byte frames:
/// one round trip and done); after a loss the search halves the gap.
///
/// Invariants: `floor <= ceiling`; at most one probe is in flight, `probe`, and its size is in
/// `floor + 1 ... ceiling`; `floor` only rises.
public struct UTPPathMTU: Sendable, Equatable {
    /// Payload bytes per packet known to cross the path.
    public private(set) var floor: Int
    /// The largest payload worth trying: the link's MTU less the headers, lowered by each lost probe.
    public private(set) var ceiling: Int
    /// The probe in flight: its sequence number and payload size.
    public private(set) var probe: Probe?
    private var triedCeiling = false

    public struct Probe: Sendable, Equatable {
        public let sequence: UInt16
        public let size: Int
    }

    /// The search stops once the ceiling is within this many bytes of the floor: each probe
    /// costs a round trip and risks a resend, and 16 bytes are ~1% of a packet.
    public static let closeEnough = 16

    /// `floor` is what ordinary packets carry from the start; `ceiling` at or below it means no
    /// probing at all.
    public init(floor: Int, ceiling: Int) {
        self.floor = floor
        self.ceiling = max(floor, ceiling)
    }

    /// Whether the search is over (no probe will be sent again).
    public var settled: Bool { ceiling - floor < Self.closeEnough }

    /// The payload size of the next probe; nil while one is in flight or once the search is over.
    public var nextProbeSize: Int? {
        guard probe == nil, !settled else { return nil }
        return triedCeiling ? floor + (ceiling - floor + 1) / 2 : ceiling
    }

    /// A probe of `size` payload bytes went out as packet `sequence`.
    public mutating func sent(sequence: UInt16, size: Int) {
        guard probe == nil, size > floor, size <= ceiling else { return }
        probe = Probe(sequence: sequence, size: size)
        triedCeiling = true
    }

    /// Packet `sequence` was acked; returns whether it was the probe (the floor is then its size).
    @discardableResult
    public mutating func acked(sequence: UInt16) -> Bool {
        guard let probe, probe.sequence == sequence else { return false }
        floor = max(floor, probe.size)
        self.probe = nil
        return true
    }

    /// Packet `sequence` was lost; returns whether it was the probe (the ceiling is then below it).
    /// A random loss lowers the ceiling as a too-big probe would: the search then settles a
    /// little low, which costs a few percent of header overhead, never a stuck connection.
    @discardableResult
    public mutating func lost(sequence: UInt16) -> Bool {
        guard let probe, probe.sequence == sequence else { return false }
        ceiling = max(floor, probe.size - 1)
        self.probe = nil
        return true
    }

    /// The probe's fate cannot tell anything (it went without don't-fragment, or every packet
    /// in flight was lost with it): forgotten, the same size may be tried again.
    public mutating func abandon() {
        probe = nil
    }
}
