import NIOCore
import NIOPosix

/// A BEP 15 UDP tracker: connect, then announce, each retransmitted on the `base · 2^n` schedule.
///
/// Reusable: the connection id is kept for its 60-second lifetime and shared by later announces.
/// Each announce uses its own short-lived connected datagram socket, so a refused port (ICMP
/// unreachable) surfaces as a transport error at once instead of a long timeout.
actor UDPTrackerClient: TrackerClient {
    /// How long a connection id may be used after it was issued (BEP 15: one minute).
    static let standardConnectionIDLifetime: Duration = .seconds(60)
    /// The largest datagram read; a UDP payload cannot exceed this, so replies are bounded.
    static let maxDatagramSize = 65_536

    let url: String
    private let target: TrackerURL
    private let group: any EventLoopGroup
    private let retransmit: UDPRetransmitPolicy
    private let connectionIDLifetime: Duration
    private var connection: (id: UInt64, issued: ContinuousClock.Instant)?
    private var resolvedAddress: SocketAddress?

    init(
        url: String, target: TrackerURL, eventLoopGroup: any EventLoopGroup, retransmit: UDPRetransmitPolicy,
        connectionIDLifetime: Duration = standardConnectionIDLifetime
    ) {
        self.url = url
        self.target = target
        self.group = eventLoopGroup
        self.retransmit = retransmit
        self.connectionIDLifetime = connectionIDLifetime
    }

    func announce(_ request: AnnounceRequest, timeout: Duration) async throws(TrackerError) -> AnnounceResponse {
        let deadline = ContinuousClock.now + timeout
        let address = try await resolve()
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: group)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.maxDatagramSize))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPTrackerReplyHandler())
                    }
                }
                .connect(to: address).get()
        } catch {
            throw .transport(url: url, underlying: "\(error)")
        }
        do {
            let response = try await exchange(request, on: channel, ipv6: address.protocol == .inet6, deadline: deadline)
            try? await channel.close()
            return response
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Runs connect (when no fresh connection id is held) and announce on `channel`.
    private func exchange(
        _ request: AnnounceRequest, on channel: any Channel, ipv6: Bool, deadline: ContinuousClock.Instant
    ) async throws(TrackerError) -> AnnounceResponse {
        var attempt = 0
        var connectTransaction = UInt32.random(in: .min ... .max)
        var announceTransaction = UInt32.random(in: .min ... .max)
        while true {
            let connectionID: UInt64
            if let connection, ContinuousClock.now - connection.issued < connectionIDLifetime {
                connectionID = connection.id
            } else {
                connection = nil
                let packet = UDPTrackerPacket.connectRequest(transactionID: connectTransaction, allocator: channel.allocator)
                guard let reply = try await send(packet, transactionID: connectTransaction, on: channel,
                                                 attempt: &attempt, deadline: deadline)
                else { continue }
                switch try UDPTrackerPacket.parse(reply, ipv6Peers: ipv6, url: url) {
                case let .connected(id):
                    connection = (id, .now)
                    connectTransaction = UInt32.random(in: .min ... .max)
                    continue
                case let .error(message):
                    throw .failure(url: url, reason: message)
                case .announced:
                    throw .malformedResponse(url: url, detail: "announce reply to a connect request")
                }
            }
            let packet = UDPTrackerPacket.announceRequest(
                connectionID: connectionID, transactionID: announceTransaction, request: request,
                allocator: channel.allocator)
            guard let reply = try await send(packet, transactionID: announceTransaction, on: channel,
                                             attempt: &attempt, deadline: deadline)
            else {
                // Retransmitting: a fresh transaction, and a fresh connection id if it expired meanwhile.
                announceTransaction = UInt32.random(in: .min ... .max)
                continue
            }
            switch try UDPTrackerPacket.parse(reply, ipv6Peers: ipv6, url: url) {
            case let .announced(response):
                return response
            case let .error(message):
                // An error can mean our connection id was not accepted; do not reuse it.
                connection = nil
                throw .failure(url: url, reason: message)
            case .connected:
                throw .malformedResponse(url: url, detail: "connect reply to an announce request")
            }
        }
    }

    /// Sends `packet` and waits for its reply for the current attempt's retransmit interval.
    ///
    /// - Returns: the reply, or nil when the interval elapsed (`attempt` is then incremented).
    /// - Throws: `.timeout` when retransmissions or the deadline are exhausted; `.transport` on
    ///   socket errors.
    private func send(
        _ packet: ByteBuffer, transactionID: UInt32, on channel: any Channel, attempt: inout Int,
        deadline: ContinuousClock.Instant
    ) async throws(TrackerError) -> ByteBuffer? {
        let remaining = deadline - .now
        guard attempt <= retransmit.maxRetransmits, remaining > .zero else { throw .timeout(url: url) }
        let wait = min(retransmit.wait(forAttempt: attempt), remaining)
        let outcome: UDPTrackerReplyHandler.Outcome
        do {
            outcome = try await Self.roundTrip(packet, transactionID: transactionID, wait: wait, on: channel)
        } catch {
            throw .transport(url: url, underlying: "\(error)")
        }
        switch outcome {
        case let .reply(reply):
            return reply
        case .timedOut:
            attempt += 1
            return nil
        }
    }

    /// Registers the wait and writes the datagram in one event-loop turn, so no reply can slip
    /// between the two.
    private static func roundTrip(
        _ packet: ByteBuffer, transactionID: UInt32, wait: Duration, on channel: any Channel
    ) async throws -> UDPTrackerReplyHandler.Outcome {
        let loop = channel.eventLoop
        let timeout = TimeAmount.nanoseconds(Int64(clamping: wait.nanosecondsClamped))
        return try await loop.flatSubmit { () -> EventLoopFuture<UDPTrackerReplyHandler.Outcome> in
            let promise = loop.makePromise(of: UDPTrackerReplyHandler.Outcome.self)
            let handler: UDPTrackerReplyHandler
            do {
                handler = try channel.pipeline.syncOperations.handler(type: UDPTrackerReplyHandler.self)
            } catch {
                promise.fail(error)
                return promise.futureResult
            }
            handler.expect(transactionID: transactionID, within: timeout, promise: promise)
            let boundHandler = NIOLoopBound(handler, eventLoop: loop)
            channel.writeAndFlush(packet).whenFailure { error in boundHandler.value.fail(error) }
            return promise.futureResult
        }.get()
    }

    /// Resolves the tracker's host once, off the event loops (getaddrinfo blocks).
    private func resolve() async throws(TrackerError) -> SocketAddress {
        if let resolvedAddress { return resolvedAddress }
        let host = target.host
        let port = target.port
        do {
            let address = try await NIOThreadPool.singleton.runIfActive {
                try SocketAddress.makeAddressResolvingHost(host, port: port)
            }
            resolvedAddress = address
            return address
        } catch {
            throw .transport(url: url, underlying: "cannot resolve \(host): \(error)")
        }
    }
}

extension Duration {
    /// The duration in nanoseconds, saturating instead of overflowing.
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return whole.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}
