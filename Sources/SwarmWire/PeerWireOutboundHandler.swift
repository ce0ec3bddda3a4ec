import NIOCore

/// Encodes outbound frames for a peer connection, faster than `MessageToByteHandler(PeerWireEncoder())`:
///
/// - small messages (requests, haves, cancels...) are appended to one buffer that is written on
///   `flush`, so a batch of 64 requests costs one allocation and one write, not 64;
/// - a `piece` block is written as its own buffer after its 13-byte header, never copied, so
///   uploading a block read from disk costs no extra memcpy (the kernel gathers both with writev).
///
/// Order is preserved. Promises of coalesced messages complete when their batch is written.
/// A drop-in replacement in the pipeline: its inbound partner is still `PeerWireDecoder`.
public final class PeerWireOutboundHandler: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = PeerWireFrame
    public typealias OutboundOut = ByteBuffer

    /// Blocks at least this large go out as their own buffer; smaller ones are cheaper to copy.
    public static let passThroughThreshold = 1024
    /// A batch is written out early once it reaches this size, bounding the coalescing buffer.
    public static let maxBatchBytes = 64 * 1024

    private var batch: ByteBuffer?
    private var batchPromises: [EventLoopPromise<Void>] = []

    /// Creates the handler.
    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        if case let .message(.piece(index, begin, block)) = frame, block.readableBytes >= Self.passThroughThreshold {
            var buffer = takeBatch(context: context)
            buffer.writeMultipleIntegers(
                UInt32(truncatingIfNeeded: 9 + block.readableBytes), PeerMessageID.piece.rawValue, index, begin)
            batch = buffer
            writeBatch(context: context)
            context.write(wrapOutboundOut(block), promise: promise)
            return
        }
        var buffer = takeBatch(context: context)
        switch frame {
        case let .handshake(handshake): PeerWireEncoder.write(handshake, to: &buffer)
        case let .message(message): PeerWireEncoder.write(message, to: &buffer)
        }
        batch = buffer
        if let promise { batchPromises.append(promise) }
        if buffer.readableBytes >= Self.maxBatchBytes { writeBatch(context: context) }
    }

    public func flush(context: ChannelHandlerContext) {
        writeBatch(context: context)
        context.flush()
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // Hand queued bytes to the channel so their promises are settled by it (written or failed).
        writeBatch(context: context)
        context.close(mode: mode, promise: promise)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        writeBatch(context: context)
    }

    /// The current batch buffer (moved out, so appending does not copy-on-write), or a new one.
    private func takeBatch(context: ChannelHandlerContext) -> ByteBuffer {
        if let buffer = batch {
            batch = nil
            return buffer
        }
        return context.channel.allocator.buffer(capacity: 512)
    }

    private func writeBatch(context: ChannelHandlerContext) {
        guard let buffer = batch, buffer.readableBytes > 0 else { return }
        batch = nil
        let promises = batchPromises
        batchPromises = []
        guard !promises.isEmpty else {
            context.write(wrapOutboundOut(buffer), promise: nil)
            return
        }
        let batchPromise = context.eventLoop.makePromise(of: Void.self)
        batchPromise.futureResult.whenComplete { result in
            for promise in promises { promise.completeWith(result) }
        }
        context.write(wrapOutboundOut(buffer), promise: batchPromise)
    }
}
