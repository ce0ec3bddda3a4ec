import AsyncHTTPClient
import Logging
import NIOCore
import SwarmMetainfo
import SwarmWire

/// A web seed (BEP 19) as a peer: the far end of a local pipe whose near end is an ordinary
/// `PeerConnection` of the torrent, so the Foreman treats the web seed as one more seed — it
/// picks, requests, times out, races, verifies and bans it like any peer, and remains the only
/// owner of piece state. This end answers the worker's handshake as a seed (bitfield of every
/// piece, unchoke) and turns its block requests into HTTP range requests: requested blocks that
/// follow each other are fetched as one span (up to `maxSpan`), at most `maxFetches` spans at
/// once, and each block is sent back as soon as its bytes are in.
///
/// Lives on the torrent's event loop (HTTP bodies arrive elsewhere and hop here).
///
/// Invariants: `queued` holds requests not yet in a fetch (at most `maxQueued`); `fetches`
/// counts spans in flight (at most `maxFetches`); after the channel closed nothing is fetched
/// and every running fetch is cancelled.
final class WebSeedPeer: ChannelInboundHandler {
    typealias InboundIn = PeerWireFrame
    typealias OutboundOut = PeerWireFrame

    /// The largest span asked for in one go, and spans in flight at once.
    static let maxSpan = 4 << 20
    static let maxFetches = 2
    /// More queued requests than a worker ever keeps in flight: the pipe is ours, but bounded.
    static let maxQueued = 1024

    private let location: WebSeedLocation
    private let layout: FileLayout
    private let isSingleFile: Bool
    private let infoHash: InfoHash
    private let peerID: PeerID
    private let client: HTTPClient
    private let logger: Logger
    /// Told once, when the pipe closes: the bytes this seed delivered and why it stopped (nil:
    /// closed by the torrent).
    private let ended: (Int64, WebSeedError?) -> Void

    private var context: ChannelHandlerContext?
    private var queued: [Int64: BlockRequest] = [:]
    private var fetches: [UInt64: Task<Void, Never>] = [:]
    private var nextFetch: UInt64 = 0
    private var delivered: Int64 = 0
    private var failure: WebSeedError?
    private var closed = false

    init(location: WebSeedLocation, metainfo: Metainfo, peerID: PeerID, client: HTTPClient, logger: Logger,
         ended: @escaping (Int64, WebSeedError?) -> Void) {
        self.location = location
        layout = metainfo.layout
        isSingleFile = metainfo.isSingleFile
        infoHash = metainfo.infoHash
        self.peerID = peerID
        self.client = client
        self.logger = logger
        self.ended = ended
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .handshake(handshake):
            guard handshake.infoHash == infoHash else { return context.close(promise: nil) }
            context.write(wrapOutboundOut(.handshake(Handshake(infoHash: infoHash, peerID: peerID))), promise: nil)
            context.write(wrapOutboundOut(.message(.bitfield(allPieces(allocator: context.channel.allocator)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.message(.unchoke)), promise: nil)
        case let .message(.request(request)):
            guard let offset = torrentOffset(of: request), queued.count < Self.maxQueued else {
                return context.close(promise: nil)
            }
            queued[offset] = request
            startFetches()
        case let .message(.cancel(request)):
            if let offset = torrentOffset(of: request) { queued[offset] = nil }
        case .message:
            break  // interest, have, bitfield, keep-alive: a seed has nothing to do with them
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        queued.removeAll()
        for task in fetches.values { task.cancel() }
        fetches.removeAll()
        ended(delivered, failure)
        self.context = nil
    }

    // MARK: - Fetching

    /// Starts spans while there is room: the lowest queued request and those that follow it.
    private func startFetches() {
        while !closed, fetches.count < Self.maxFetches, let start = queued.keys.min() {
            var blocks: [BlockRequest] = []
            var offset = start
            var length = 0
            while let request = queued[offset], length + Int(request.length) <= Self.maxSpan {
                queued[offset] = nil
                blocks.append(request)
                length += Int(request.length)
                offset += Int64(request.length)
            }
            fetch(blocks, at: start, length: length)
        }
    }

    private func fetch(_ blocks: [BlockRequest], at offset: Int64, length: Int) {
        guard let loop = context?.eventLoop else { return }
        let id = nextFetch
        nextFetch &+= 1
        let parts = location.parts(torrentOffset: offset, length: Int64(length), layout: layout, isSingleFile: isSingleFile)
        let bound = NIOLoopBound(self, eventLoop: loop)
        let client = self.client
        fetches[id] = Task {
            var pending = ByteBuffer()
            var next = 0
            do throws(WebSeedError) {
                try await WebSeedFetch.fetch(parts, client: client, userAgent: "swarmfs/0.1") { bytes in
                    var bytes = bytes
                    pending.writeBuffer(&bytes)
                    while next < blocks.count, pending.readableBytes >= Int(blocks[next].length) {
                        let block = blocks[next]
                        let payload = pending.readSlice(length: Int(block.length))!
                        next += 1
                        loop.execute { bound.value.send(block, payload) }
                    }
                    pending.discardReadBytes()
                }
                loop.execute { bound.value.finished(id, error: nil) }
            } catch {
                loop.execute { bound.value.finished(id, error: error) }
            }
        }
    }

    private func send(_ block: BlockRequest, _ payload: ByteBuffer) {
        guard !closed, let context else { return }
        delivered += Int64(payload.readableBytes)
        context.writeAndFlush(wrapOutboundOut(.message(.piece(index: block.piece, begin: block.begin, block: payload))),
                              promise: nil)
    }

    private func finished(_ id: UInt64, error: WebSeedError?) {
        guard fetches.removeValue(forKey: id) != nil, !closed else { return }
        if let error {
            // The worker's requests go to other peers when the pipe closes.
            failure = error
            context?.close(promise: nil)
            return
        }
        startFetches()
    }

    // MARK: - Helpers

    /// The request's offset in the torrent's byte stream; nil if it is not inside its piece.
    private func torrentOffset(of request: BlockRequest) -> Int64? {
        let piece = Int(request.piece)
        let size = layout.pieceSize(piece)
        guard request.length > 0, Int(request.begin) + Int(request.length) <= size else { return nil }
        return layout.pieceOffset(piece) + Int64(request.begin)
    }

    private func allPieces(allocator: ByteBufferAllocator) -> ByteBuffer {
        let count = layout.pieceCount
        var bytes = [UInt8](repeating: 0xff, count: (count + 7) / 8)
        if count % 8 != 0 { bytes[bytes.count - 1] = 0xff << (8 - count % 8) }
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return buffer
    }
}
