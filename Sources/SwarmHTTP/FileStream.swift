#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import SwarmContent

/// Sends one file range as a response body, reading it through its own reader of the content
/// source, as a FUSE file handle does: reads of missing data wait (and raise those pieces'
/// priority), and the reader's readahead window follows the stream.
///
/// Back-pressure: at most one read is outstanding, and the next is asked only while the channel
/// is writable (the socket takes bytes) and no more than one earlier chunk is still queued for
/// it; so a connection holds at most two chunks however slowly its client reads, and reading the
/// next chunk overlaps sending the last one. The head goes out with the first chunk, so a read
/// that fails before any byte was sent still gets a proper status (503/504/500).
///
/// Chunks go out corked (`TCP_CORK`, nginx's `tcp_nopush`): while chunks follow one another the
/// kernel sends only full segments (a complete cache streamed ~1.25x faster over loopback in
/// Benchmarks/http); the cork comes off as soon as no chunk waits to be written, which pushes
/// the tail at once, so a response never waits on a partial segment (the first bytes, or the
/// last before a read that waits for the swarm).
///
/// Invariants (all on the event loop): `ticket` is non-nil exactly while a read is outstanding;
/// `queuedWrites` (0...1 when a read is asked) counts chunks handed to the channel, not yet written;
/// the reader is closed exactly once — at the end, or on `abandon()` once no read is running
/// (the span's descriptor must stay open while the completion reads from it).
final class FileStream {
    private let context: ChannelHandlerContext
    private let handler: NIOLoopBound<HTTPConnectionHandler>
    private let content: any TorrentContentSource
    private let fileIndex: Int
    private let reader: ReaderID
    private let end: Int64
    private let head: HTTPResponseHead
    private let chunk: Int
    private let tracker: ConnectionTracker
    private var next: Int64
    private var nextChunk: Int
    private var ticket: ReadTicket?
    private var queuedWrites = 0
    private var headSent = false
    private var abandoned = false
    private var readerClosed = false
    private var corked = false
    /// `TCP_CORK` from <netinet/tcp.h>, which NIO has no name for.
    private static let cork = ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: 3))

    init(context: ChannelHandlerContext, handler: NIOLoopBound<HTTPConnectionHandler>, content: any TorrentContentSource,
         fileIndex: Int, range: Range<Int64>, head: HTTPResponseHead, firstChunk: Int, chunk: Int,
         tracker: ConnectionTracker) {
        self.tracker = tracker
        self.context = context
        self.handler = handler
        self.content = content
        self.fileIndex = fileIndex
        self.end = range.upperBound
        self.next = range.lowerBound
        self.head = head
        self.chunk = min(64 << 20, max(16 * 1024, chunk))
        self.nextChunk = max(16 * 1024, min(firstChunk, self.chunk))
        reader = content.openReader(fileIndex: fileIndex)
    }

    func start() { pump() }

    /// Asks for the next chunk if nothing is outstanding and the client takes more.
    func pump() {
        guard !abandoned, ticket == nil, queuedWrites <= 1, next < end, context.channel.isWritable else { return }
        let length = Int(min(Int64(nextChunk), end - next))
        nextChunk = min(chunk, nextChunk * 2)
        let offset = next
        let loop = context.eventLoop
        let allocator = context.channel.allocator
        let bound = NIOLoopBound(self, eventLoop: loop)
        // Set before the call: the completion may run before `read` returns, but it only hops
        // to the loop, which runs it after this method.
        let placeholder = ReadTicket.completed
        ticket = placeholder
        tracker.readStarted()
        let issued = content.read(reader, fileIndex: fileIndex, offset: offset, length: length) { result in
            // Taken here, off the event loop: a span in memory is valid only during this call.
            let outcome = result.flatMap { span -> Result<Chunk, ContentReadError> in
                Chunk.make(span, allocator: allocator).map { .success($0) }
                    ?? .failure(.storage(file: -1, kind: .unavailable, detail: "the cache file could not be opened"))
            }
            loop.execute { bound.value.readDone(outcome) }
        }
        if ticket === placeholder { ticket = issued }
    }

    private func readDone(_ outcome: Result<Chunk, ContentReadError>) {
        ticket = nil
        tracker.readHandled()
        if abandoned {
            if case let .success(chunk) = outcome { chunk.release() }
            closeReader()
            return
        }
        switch outcome {
        case let .success(chunk):
            guard chunk.count > 0 else {
                chunk.release()
                return fail(status: .internalServerError, reason: "the source returned no bytes")
            }
            if !headSent {
                headSent = true
                context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
            }
            next += Int64(chunk.count)
            setCorked(true)
            queuedWrites += 1
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(chunk.body))).whenComplete { result in
                chunk.release()
                bound.value.writeDone(result)
            }
            pump()
        case let .failure(error):
            switch error {
            case .timedOut: fail(status: .gatewayTimeout, reason: error.description)
            case .shutdown, .cancelled: fail(status: .serviceUnavailable, reason: error.description)
            case .storage, .invalidRange: fail(status: .internalServerError, reason: error.description)
            }
        }
    }

    private func writeDone(_ result: Result<Void, any Error>) {
        queuedWrites -= 1
        // Nothing more queued behind this chunk: push its last partial segment now.
        if queuedWrites == 0 { setCorked(false) }
        guard !abandoned else { return }
        guard case .success = result else {
            return fail(status: .internalServerError, reason: "write failed")
        }
        if next >= end, queuedWrites == 0, ticket == nil {
            closeReader()
            handler.value.streamEnded(keepAlive: head.headers.first(name: "Connection") != "close",
                                      failure: nil, headSent: true)
        } else {
            pump()
        }
    }

    private func fail(status: HTTPResponseStatus, reason: String) {
        // A read still outstanding (a failed write while the next chunk was being read) is
        // cancelled: it must not keep its pieces first for a response that is over.
        abandon()
        handler.value.streamEnded(keepAlive: false, failure: (status, reason), headSent: headSent)
    }

    /// The connection went away: cancels the outstanding read (its completion then closes the
    /// reader) or closes the reader now.
    func abandon() {
        guard !abandoned else { return }
        abandoned = true
        if let ticket {
            ticket.cancel()
        } else {
            closeReader()
        }
    }

    private func setCorked(_ on: Bool) {
        guard on != corked else { return }
        corked = on
        // A socket that refuses it streams as before, uncorked.
        try? context.channel.syncOptions?.setOption(Self.cork, value: on ? 1 : 0)
    }

    private func closeReader() {
        guard !readerClosed, ticket == nil else { return }
        readerClosed = true
        content.closeReader(reader)
    }
}

/// One chunk of a body: bytes copied from memory, or a region of the cache file sent with
/// `sendfile(2)` (no copy through user space) from a descriptor of its own, so the region stays
/// valid whatever the reader does meanwhile; `release()` closes that descriptor once the write
/// is done (or abandoned).
struct Chunk: Sendable {
    let body: IOData
    private let handle: NIOFileHandle?

    var count: Int { body.readableBytes }

    /// The chunk for `span` (nil if its descriptor cannot be duplicated).
    static func make(_ span: ReadableSpan, allocator: ByteBufferAllocator) -> Chunk? {
        if let memory = span.memory {
            var buffer = allocator.buffer(capacity: memory.count)
            buffer.writeBytes(memory)
            return Chunk(body: .byteBuffer(buffer), handle: nil)
        }
        guard span.length > 0, span.fd >= 0 else { return Chunk(body: .byteBuffer(allocator.buffer(capacity: 0)), handle: nil) }
        let own = fcntl(span.fd, F_DUPFD_CLOEXEC, 0)
        guard own >= 0 else { return nil }
        // NIO's file regions still take an NIOFileHandle, which owns the descriptor it is given.
        let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: own)
        let start = Int(span.offset)
        return Chunk(body: .fileRegion(FileRegion(fileHandle: handle, readerIndex: start, endIndex: start + span.length)),
                     handle: handle)
    }

    func release() {
        try? handle?.close()
    }
}
