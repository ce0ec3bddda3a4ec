import NIOCore
import SwarmMetainfo
import SwarmMSE
import SwarmWire

/// The first handler of a peer connection that may be encrypted (MSE/PE): it runs the MSE
/// handshake, then en/decrypts every byte in place (RC4 over the ByteBuffer's own storage), or
/// steps aside when the stream turned out to be plaintext.
///
/// Dialling (`initiator`): it holds the channel's activation back from the peer pipeline until
/// the handshake is done, so the BitTorrent handshake is the first thing that pipeline writes,
/// already under the selected method; `established` then succeeds (or fails, and the
/// channel is closed). Accepting (`incoming`): it looks at the first 20 bytes; the plaintext
/// BitTorrent handshake is passed on untouched (if allowed), anything else is taken for Ya and
/// answered as MSE's receiver; the plaintext that follows goes on to the engine's router. The
/// router's deadline bounds the whole exchange; the dialling side has its own.
///
/// Confined to the channel's event loop. Invariants: `handshake` is non-nil exactly while the
/// handshake runs; writes from the pipeline before it ends are held (`held`) and released, in
/// order, encrypted if need be, when it ends.
final class EncryptionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long a dialled peer has to finish the handshake.
    static let timeout = TimeAmount.seconds(10)

    /// Why an encrypted attempt failed after the TCP connection came up.
    struct HandshakeFailed: Error, CustomStringConvertible {
        let reason: String
        var description: String { "MSE handshake failed: \(reason)" }
    }

    enum Role {
        /// `initialPayload`: our BitTorrent handshake, sent as MSE's IA; the pipeline's own
        /// write of it is then dropped (`unsentIA`).
        case initiator(infoHash: InfoHash, provide: MSECryptoMethods, initialPayload: [UInt8],
                       established: EventLoopPromise<Void>)
        /// `allow`: what an MSE handshake may select (nil: refuse MSE); `plaintext`: whether a
        /// plaintext BitTorrent handshake may pass; `findTorrent`: `HASH('req2', SKEY)` to info-hash.
        case incoming(allow: MSECryptoMethods?, plaintext: Bool, findTorrent: ([UInt8]) -> InfoHash?)
    }

    private let role: Role
    /// Dialling: succeeds when the handshake is done, fails if it failed.
    var established: EventLoopFuture<Void>? {
        if case let .initiator(_, _, _, promise) = role { promise.futureResult } else { nil }
    }
    private var handshake: MSEHandshake?
    /// Until the peer's first bytes show whether it speaks plaintext BitTorrent: they are kept
    /// in `sniffed` (at most 20 plus one read).
    private var sniffing = true
    private var sniffed: [UInt8] = []
    private var encryptor: RC4?
    private var decryptor: RC4?
    private var finished = false
    private var failed = false
    private var forwardedActive = false
    private var held: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var deadline: Scheduled<Void>?
    /// The part of the IA the pipeline has not written yet: it went out in the handshake, so the
    /// pipeline's first bytes (its BitTorrent handshake, the same bytes) are dropped here.
    private var unsentIA: ArraySlice<UInt8> = []

    init(role: Role) {
        self.role = role
    }

    // MARK: - Handshake

    func channelActive(context: ChannelHandlerContext) {
        guard case let .initiator(infoHash, provide, initialPayload, _) = role else {
            // Accepting: the router behind us holds the worker back until it knows the torrent.
            forwardedActive = true
            return context.fireChannelActive()
        }
        var random = SystemRandomNumberGenerator()
        let handshake = MSEHandshake(initiatorFor: infoHash, provide: provide, initialPayload: initialPayload,
                                     using: &random)
        unsentIA = initialPayload[...]
        self.handshake = handshake
        send(handshake.start(), context: context)
        context.flush()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: Self.timeout) {
            let (handler, context) = bound.value
            handler.fail(context: context, "no answer in \(Self.timeout.nanoseconds / 1_000_000_000) s")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var buffer = unwrapInboundIn(data)
        if finished {
            if decryptor != nil {
                buffer.withUnsafeMutableReadableBytes { decryptor!.apply(to: $0) }
            }
            return context.fireChannelRead(wrapInboundOut(buffer))
        }
        if sniffing {
            // The first 20 bytes tell a plaintext BitTorrent handshake from a Diffie-Hellman key
            // (which starts like one with probability 2^-160).
            sniffed += buffer.readableBytesView
            let name = [UInt8(Handshake.protocolName.count)] + Handshake.protocolName
            let compared = min(sniffed.count, name.count)
            if sniffed.prefix(compared).elementsEqual(name.prefix(compared)) {
                guard compared == name.count else { return }  // could still be either
                guard case .incoming(_, true, _) = role else {
                    // A dialled peer that speaks first in plaintext will not do MSE: fail at once
                    // (under `prefer` the dial is repeated in plaintext).
                    return fail(context: context, "the peer sent a plaintext handshake")
                }
                return passThrough(context: context)
            }
            sniffing = false
            if case let .incoming(allow, _, findTorrent) = role {
                guard let allow else { return fail(context: context, "an encrypted handshake, and encryption is disabled") }
                var random = SystemRandomNumberGenerator()
                handshake = MSEHandshake(receiverAllowing: allow, findTorrent: findTorrent, using: &random)
            }
            buffer = context.channel.allocator.buffer(bytes: sniffed)
            sniffed = []
        }
        do {
            let step = try handshake!.feed(buffer.readableBytesView)
            if !step.send.isEmpty {
                send(step.send, context: context)
                context.flush()
            }
            if let outcome = step.outcome { established(outcome, context: context) }
        } catch {
            fail(context: context, "\(error)")
        }
    }

    private func established(_ outcome: MSEHandshake.Outcome, context: ChannelHandlerContext) {
        finished = true
        handshake = nil
        deadline?.cancel()
        encryptor = outcome.encryptor
        decryptor = outcome.decryptor
        if case let .initiator(_, _, _, promise) = role {
            forwardedActive = true
            context.fireChannelActive()
            promise.succeed()
        }
        releaseHeld(context: context)
        if !outcome.payload.isEmpty {
            context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: outcome.payload)))
        }
        context.fireChannelReadComplete()
    }

    /// A plaintext peer: hand on what it sent and leave the pipeline.
    private func passThrough(context: ChannelHandlerContext) {
        finished = true
        let bytes = sniffed
        sniffed = []
        releaseHeld(context: context)
        context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: bytes)))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func fail(context: ChannelHandlerContext, _ reason: String) {
        guard !finished else { return }
        finished = true
        failed = true
        handshake = nil
        deadline?.cancel()
        let failure = HandshakeFailed(reason: reason)
        for (_, promise) in held { promise?.fail(failure) }
        held = []
        if case let .initiator(_, _, _, promise) = role { promise.fail(failure) }
        context.close(promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if finished, !failed { context.fireChannelReadComplete() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context: context, "the peer closed the connection")
        // A pipeline that never saw the connection open does not hear it close either.
        if forwardedActive { context.fireChannelInactive() }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if failed { return }
        if finished {
            context.fireErrorCaught(error)
        } else {
            fail(context: context, "\(error)")
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        if case let .initiator(_, _, _, promise) = role {
            promise.fail(HandshakeFailed(reason: "the connection was torn down"))  // no-op once completed
        }
    }

    // MARK: - The stream

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        guard finished else { return held.append((buffer, promise)) }
        writeOut(buffer, context: context, promise: promise)
    }

    private func writeOut(_ buffer: ByteBuffer, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        var buffer = buffer
        if !unsentIA.isEmpty {
            let overlap = min(unsentIA.count, buffer.readableBytes)
            guard buffer.readableBytesView.prefix(overlap).elementsEqual(unsentIA.prefix(overlap)) else {
                // The pipeline's first bytes are not the handshake sent as IA: the peer would read
                // two handshakes. Never happens with our own pipelines; refuse rather than garble.
                promise?.fail(HandshakeFailed(reason: "the pipeline's first bytes are not the handshake sent as IA"))
                return context.close(promise: nil)
            }
            unsentIA = unsentIA.dropFirst(overlap)
            buffer.moveReaderIndex(forwardBy: overlap)
            if buffer.readableBytes == 0 {
                promise?.succeed()
                return
            }
        }
        if encryptor != nil {
            // In place: a buffer shared with someone else is copied first by ByteBuffer itself.
            buffer.withUnsafeMutableReadableBytes { encryptor!.apply(to: $0) }
        }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    private func releaseHeld(context: ChannelHandlerContext) {
        guard !held.isEmpty else { return }
        let writes = held
        held = []
        for (buffer, promise) in writes { writeOut(buffer, context: context, promise: promise) }
        context.flush()
    }

    private func send(_ bytes: [UInt8], context: ChannelHandlerContext) {
        guard !bytes.isEmpty else { return }
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
    }
}
