import NIOCore
import NIOPosix
import SwarmUTP

/// One uTP connection on the engine's loop and the local stream socket the peer pipeline reads
/// and writes: bytes the pipeline writes arrive on `pump` (the service's end of a
/// `socketpair`) and go into the connection; bytes the connection delivers are written to `pump`.
/// Back-pressure both ways: `pump` stops reading once `pendingLimit` bytes wait for room in the
/// connection's send buffer, and the connection's data waits (its receive window closing) while
/// `pump` is not writable.
///
/// The peer's channel gets deep write-buffer water marks (`peerWaterMark`): the uploader drops
/// a request that arrives while the peer's channel is not writable (a peer that does not read
/// must not grow our memory). Over TCP the kernel's send buffer (megabytes, autotuned) keeps the
/// channel writable while a healthy peer is fed; a socket pair's is ~200 KB and fills within
/// one loop turn, so NIO's buffer stands in for the rest, as deep as the uploader's own bound
/// (256 requests of 16 KiB).
///
/// Invariants: confined to the engine's loop; `pending` holds bytes read from `pump` that the
/// connection had no room for; `pump` reads while `pending` is under `pendingLimit`.
final class UTPStream {
    struct Key: Hashable {
        let address: SocketAddress
        let receiveID: UInt16
    }

    let key: Key
    let connection: UTPConnection
    /// The service's end of the socket pair; nil until the connection is up.
    var pump: Channel?
    /// An outgoing connection's caller: completed with the peer's channel once it is up.
    var dialed: EventLoopPromise<Channel>?
    /// The caller's pipeline installer for the peer's channel (outgoing).
    var install: (@Sendable (Channel) throws -> Void)?
    private var pending: ByteBuffer?
    static let pendingLimit = 256 * 1024
    static let peerWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 2 << 20, high: 4 << 20)
    /// The pipeline closed its end: FIN once everything it wrote is in the connection.
    var appFinished = false
    /// We told the pipeline the peer finished (half-closed our end of the pair).
    var eofDelivered = false
    var removed = false
    /// In the service's list of streams to serve at the end of this batch of reads.
    var touched = false
    /// Bytes handed to the pipeline so far.
    private(set) var deliveredBytes = 0

    init(key: Key, connection: UTPConnection) {
        self.key = key
        self.connection = connection
    }

    /// Bytes the pipeline wrote.
    func fromApp(_ buffer: ByteBuffer, now: UInt64) {
        if pending != nil {
            var buffer = buffer
            pending!.writeBuffer(&buffer)
        } else {
            pending = buffer
        }
        drainPending(now: now)
    }

    /// Moves what the connection has room for out of `pending`; reading resumes when it is empty.
    func drainPending(now: UInt64) {
        if var buffer = pending {
            let taken = connection.write(buffer.readableBytesView, now: now)
            buffer.moveReaderIndex(forwardBy: taken)
            pending = buffer.readableBytes > 0 ? buffer : nil
        }
        setReading((pending?.readableBytes ?? 0) < Self.pendingLimit)
        if pending == nil, appFinished { connection.finish(now: now) }
    }

    /// Bytes the connection delivered, to the pipeline while it keeps up; the peer's FIN after them.
    func toApp(now: UInt64) {
        guard let pump else { return }
        var wrote = false
        while connection.readable > 0, pump.isWritable {
            let bytes = connection.read(256 * 1024, now: now)
            deliveredBytes += bytes.count
            pump.write(pump.allocator.buffer(bytes: bytes), promise: nil)
            wrote = true
        }
        if wrote { pump.flush() }
        if connection.peerFinished, connection.readable == 0, !eofDelivered {
            eofDelivered = true
            pump.close(mode: .output, promise: nil)
        }
    }

    private var reading = true
    private func setReading(_ on: Bool) {
        guard on != reading, let pump else { return }
        reading = on
        try? pump.syncOptions?.setOption(ChannelOptions.autoRead, value: on)
    }
}

/// The handler on the service's end of a uTP stream's socket pair.
final class UTPPumpHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let stream: UTPStream
    private let service: UTPService

    init(stream: UTPStream, service: UTPService) {
        self.stream = stream
        self.service = service
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        stream.fromApp(unwrapInboundIn(data), now: service.now())
        service.sendDatagrams(of: stream)
        service.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { service.serve(stream) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { appClosed() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        appClosed()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func appClosed() {
        guard !stream.appFinished else { return }
        stream.appFinished = true
        if stream.deliveredBytes == 0 {
            // Nothing ever came from the peer (a refused or spoofed connection): reset rather
            // than wait for the FIN's ack through a minute of timeouts.
            stream.connection.abort(now: service.now())
        } else {
            stream.drainPending(now: service.now())
        }
        service.serve(stream)
    }
}
