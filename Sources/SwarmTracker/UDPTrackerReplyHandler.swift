import NIOCore

/// Matches datagrams from a UDP tracker to the one request waiting for them, by transaction id.
///
/// Confined to its channel's event loop. At most one request waits at a time (a `UDPTrackerClient`
/// announce is a strict sequence of request/reply exchanges).
final class UDPTrackerReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    /// What a wait ended with: a reply, or nothing before the retransmit timer fired.
    enum Outcome: Sendable {
        case reply(ByteBuffer)
        case timedOut
    }

    private struct Waiter {
        var transactionID: UInt32
        var promise: EventLoopPromise<Outcome>
        var timer: Scheduled<Void>?
    }

    private var waiter: Waiter?
    /// An error (e.g. ECONNREFUSED from an ICMP port-unreachable) that arrived with nobody waiting;
    /// the next wait fails with it at once.
    private var pendingError: (any Error)?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(with: .failure(ChannelError.ioOnClosedChannel))
        self.context = nil
    }

    /// Registers a wait for the reply with `transactionID`, resolved with `.timedOut` after
    /// `timeout`. Must be called on the event loop, before the request is written.
    func expect(transactionID: UInt32, within timeout: TimeAmount, promise: EventLoopPromise<Outcome>) {
        finish(with: .failure(ChannelError.ioOnClosedChannel))
        if let error = pendingError {
            pendingError = nil
            promise.fail(error)
            return
        }
        guard let context else {
            promise.fail(ChannelError.ioOnClosedChannel)
            return
        }
        waiter = Waiter(transactionID: transactionID, promise: promise, timer: nil)
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        waiter?.timer = context.eventLoop.scheduleTask(in: timeout) {
            loopBound.value.finish(with: .success(.timedOut))
        }
    }

    /// Fails the current wait, if any (e.g. because the write failed).
    func fail(_ error: any Error) {
        finish(with: .failure(error))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let datagram = unwrapInboundIn(data).data
        // Replies to other (older) transactions are dropped, as BEP 15 requires.
        guard let waiter, UDPTrackerPacket.transactionID(of: datagram) == waiter.transactionID else { return }
        finish(with: .success(.reply(datagram)))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if waiter != nil {
            finish(with: .failure(error))
        } else {
            pendingError = error
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(with: .failure(ChannelError.ioOnClosedChannel))
    }

    private func finish(with result: Result<Outcome, any Error>) {
        guard let current = waiter else { return }
        waiter = nil
        current.timer?.cancel()
        current.promise.completeWith(result)
    }
}
