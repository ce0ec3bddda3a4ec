import DequeModule

/// One uTP connection (BEP 29) as a pure state machine: packets in (`receive`), bytes in
/// (`write`), time in (`tick`); datagrams out (`takeDatagrams`), bytes out (`read`). No I/O and
/// no clock of its own (times are microseconds from the owner's monotonic clock), so a test
/// drives it with a manual clock over an in-memory lossy link.
///
/// Reliability: cumulative and selective acks; a packet with three later packets acked is sent
/// again at once (fast retransmit, the window halved once per window); a retransmission timeout
/// from the measured round trip sends everything unacked again from a window of two packets.
/// Congestion: LEDBAT (`UTPCongestion`). Flow: the peer's advertised window and ours. Packet
/// size: path MTU discovery by probing (`UTPPathMTU`); a lost probe lowers the size tried, not
/// the window.
///
/// Invariants: `inFlight` holds the packets `inFlight[0].sequence ..< nextSequence`, in order,
/// none acked cumulatively; `inFlightBytes` is the size of those neither selectively acked nor
/// waiting to be resent; `unsent.count + inFlightPayload <= sendBufferCapacity` after each
/// `write`; `delivered.count + outOfOrderBytes` exceeds `receiveBufferCapacity` by at most one
/// window probe; once `state == .closed` nothing is sent; at most one packet in `inFlight` is a
/// path MTU probe (`isPathProbe`), the one `pathMTU.probe` names.
public final class UTPConnection {
    public enum State: Equatable, Sendable {
        /// Our SYN is out, no answer yet.
        case synSent
        /// Data flows (either way, until each side's FIN).
        case connected
        /// Done: see `closeReason`.
        case closed
    }

    public enum CloseReason: Equatable, Sendable {
        /// Both FINs sent and acked.
        case finished
        /// No answer to our SYNs.
        case connectTimedOut
        /// Nothing acked for `maxConsecutiveTimeouts` timeouts.
        case timedOut
        /// The peer reset the connection.
        case reset
        /// We reset it (`abort`).
        case aborted
    }

    /// Our id: the connection id of the packets we receive.
    public let receiveID: UInt16
    /// The peer's: the connection id of the packets we send.
    public let sendID: UInt16
    public let settings: UTPConnectionSettings
    public internal(set) var state: State
    public internal(set) var closeReason: CloseReason?
    public internal(set) var congestion: UTPCongestion
    public internal(set) var roundTrip = UTPRoundTrip()
    /// The payload size new packets get, and the search for a larger one.
    public internal(set) var pathMTU: UTPPathMTU
    /// The peer sent FIN and everything before it has been received (it may still be unread).
    public internal(set) var peerFinished = false
    /// Our FIN was sent and acked: the peer has everything we wrote.
    public var finishAcknowledged: Bool { finAcked }
    /// Figures: packets sent again (timeouts and fast retransmits).
    public internal(set) var retransmissions = 0

    struct Outgoing {
        var sequence: UInt16
        var kind: UTPPacket.Kind
        var payload: [UInt8]
        var sentAt: UInt64 = 0
        var transmissions = 0
        var selectivelyAcked = false
        var needsResend = false
        /// Sent (once) with don't-fragment to learn whether its size crosses the path.
        var isPathProbe = false
        var size: Int { payload.count + UTPPacket.headerLength }
    }

    // Sending.
    var nextSequence: UInt16
    var inFlight = Deque<Outgoing>()
    var inFlightBytes = 0
    var inFlightPayload = 0
    var unsent = UTPByteQueue()
    var finQueued = false
    var finSent = false
    var finAcked = false
    var peerWindow: Int
    /// The window limited sending since the last ack (LEDBAT grows only a used window).
    var windowWasFull = false
    /// Until this sequence is acked, another loss does not halve the window again.
    var recoveryEnd: UInt16?
    var duplicateAcks = 0
    var retransmitDeadline: UInt64?
    var consecutiveTimeouts = 0
    var synAttempt = 0
    var synSentAt: UInt64 = 0

    // Receiving.
    var ackNumber: UInt16 = 0
    var delivered = UTPByteQueue()
    var outOfOrder: [UInt16: (payload: ArraySlice<UInt8>, isFin: Bool)] = [:]
    var outOfOrderBytes = 0
    var peerFinSequence: UInt16?
    var ackPending = false
    /// Our receive time minus the peer's timestamp on its last packet: echoed in ours.
    var replyDelay: UInt32 = 0

    var datagrams: [UTPDatagram] = []

    private init(receiveID: UInt16, sendID: UInt16, state: State, nextSequence: UInt16, peerWindow: Int,
                 settings: UTPConnectionSettings) {
        self.receiveID = receiveID
        self.sendID = sendID
        self.state = state
        self.nextSequence = nextSequence
        self.peerWindow = peerWindow
        self.settings = settings
        pathMTU = UTPPathMTU(floor: settings.payloadSize, ceiling: settings.maximumPayloadSize)
        congestion = UTPCongestion(packetSize: settings.payloadSize + UTPPacket.headerLength,
                                   maximumWindow: settings.sendBufferCapacity)
    }

    /// Opens a connection: the SYN is ready in `takeDatagrams`. `receiveID` must not be in use for
    /// this peer; `sequence` should be random.
    public static func connect(receiveID: UInt16, sequence: UInt16, now: UInt64,
                               settings: UTPConnectionSettings = .init()) -> UTPConnection {
        // The SYN takes `sequence`; data starts after it.
        let connection = UTPConnection(receiveID: receiveID, sendID: receiveID &+ 1, state: .synSent,
                                       nextSequence: sequence &+ 1, peerWindow: settings.payloadSize * 2, settings: settings)
        connection.sendSYN(now: now)
        return connection
    }

    /// Accepts a peer's SYN: the acknowledging STATE is ready in `takeDatagrams`.
    public static func accept(_ syn: UTPPacket, sequence: UInt16, now: UInt64,
                              settings: UTPConnectionSettings = .init()) -> UTPConnection {
        let connection = UTPConnection(receiveID: syn.connectionID &+ 1, sendID: syn.connectionID, state: .connected,
                                       nextSequence: sequence, peerWindow: Int(syn.windowSize), settings: settings)
        connection.ackNumber = syn.sequenceNumber
        connection.replyDelay = UInt32(truncatingIfNeeded: now) &- syn.timestamp
        connection.sendState(now: now)
        return connection
    }

    /// The datagrams to send, in order; taken once.
    public func takeDatagrams() -> [UTPDatagram] {
        defer { datagrams.removeAll(keepingCapacity: true) }
        return datagrams
    }

    // MARK: - The application's side

    /// Bytes `write` accepts now.
    public var writeSpace: Int {
        guard state != .closed, !finQueued else { return 0 }
        return max(0, settings.sendBufferCapacity - unsent.count - inFlightPayload)
    }

    /// Queues up to `writeSpace` bytes of `bytes` and sends what the windows allow; returns how
    /// many were taken.
    @discardableResult
    public func write(_ bytes: some Collection<UInt8>, now: UInt64) -> Int {
        let n = min(bytes.count, writeSpace)
        guard n > 0 else { return 0 }
        unsent.append(contentsOf: bytes.prefix(n))
        sendPending(now: now)
        return n
    }

    /// The owner could not send the path MTU probe with don't-fragment set (the socket was
    /// backed up, or the platform cannot): it may have crossed in fragments, so its ack proves
    /// nothing. The search forgets it.
    public func pathProbeWentFragmentable() {
        guard let probe = pathMTU.probe else { return }
        pathMTU.abandon()
        if let index = inFlight.lastIndex(where: { $0.sequence == probe.sequence }) {
            inFlight[index].isPathProbe = false
        }
    }

    /// Received bytes not yet read.
    public var readable: Int { delivered.count }

    /// Takes up to `limit` received bytes; a window that reopens is told to the peer.
    public func read(_ limit: Int, now: UInt64) -> [UInt8] {
        let before = receiveWindow
        let bytes = delivered.take(limit)
        if state == .connected, before < settings.payloadSize, receiveWindow >= settings.payloadSize {
            sendState(now: now)
        }
        return bytes
    }

    /// Sends FIN after everything written so far.
    public func finish(now: UInt64) {
        guard state != .closed, !finQueued else { return }
        finQueued = true
        sendPending(now: now)
    }

    /// Resets the connection at once.
    public func abort(now: UInt64) {
        guard state != .closed else { return }
        emit(UTPPacket(kind: .reset, connectionID: sendID, timestamp: UInt32(truncatingIfNeeded: now),
                       sequenceNumber: nextSequence, ackNumber: ackNumber))
        close(.aborted)
    }

    /// Our advertised receive window.
    var receiveWindow: Int {
        max(0, settings.receiveBufferCapacity - delivered.count - outOfOrderBytes)
    }

    func close(_ reason: CloseReason) {
        guard state != .closed else { return }
        state = .closed
        closeReason = reason
        inFlight.removeAll()
        outOfOrder.removeAll()
        retransmitDeadline = nil
    }
}

/// A datagram a connection wants sent.
public struct UTPDatagram: Sendable, Equatable {
    public let bytes: [UInt8]
    /// A path MTU probe: to be sent with don't-fragment set (else tell the connection,
    /// `pathProbeWentFragmentable`).
    public let dontFragment: Bool

    public init(bytes: [UInt8], dontFragment: Bool = false) {
        self.bytes = bytes
        self.dontFragment = dontFragment
    }
}
