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
    private var next: Int64
    private var nextChunk: Int
    private var ticket: ReadTicket?
    private var queuedWrites = 0
    private var headSent = false
    private var abandoned = false
    private var readerClosed = false

    init(context: ChannelHandlerContext, handler: NIOLoopBound<HTTPConnectionHandler>, content: any TorrentContentSource,
         fileIndex: Int, range: Range<Int64>, head: HTTPResponseHead, firstChunk: Int, chunk: Int) {
        self.context = context
        self.handler = handler
        self.content = content
        self.fileIndex = fileIndex
        self.end = range.upperBound
        self.next = range.lowerBound
        self.head = head
        self.chunk = max(16 * 1024, chunk)
        self.nextChunk = max(16 * 1024, min(firstChunk, chunk))
        reader = content.openReader(fileIndex: fileIndex)
    }

    func start() { pump() }

    /// Asks for the next chunk if nothing is outstanding and the client takes more.
    func pump() {
        guard !abandoned, ticket == nil, queuedWrites <= 1, next < end, context.channel.isWritable else { return }
        let length = Int(min(Int64(nextChunk), end - next))
        nextChunk = chunk
        let offset = next
        let loop = context.eventLoop
        let allocator = context.channel.allocator
        let bound = NIOLoopBound(self, eventLoop: loop)
        // Set before the call: the completion may run before `read` returns, but it only hops
        // to the loop, which runs it after this method.
        let placeholder = ReadTicket.completed
        ticket = placeholder
        let issued = content.read(reader, fileIndex: fileIndex, offset: offset, length: length) { result in
            // Copied here, off the event loop: the span is valid only during this call, and the
            // file read must not block the loop.
            let outcome = result.flatMap { span -> Result<ByteBuffer, ContentReadError> in
                Self.copy(span, allocator: allocator).map { .success($0) }
                    ?? .failure(.storage(file: -1, kind: .unavailable, detail: "the cache file could not be read"))
            }
            loop.execute { bound.value.readDone(outcome) }
        }
        if ticket === placeholder { ticket = issued }
    }

    private func readDone(_ outcome: Result<ByteBuffer, ContentReadError>) {
        ticket = nil
        if abandoned {
            closeReader()
            return
        }
        switch outcome {
        case let .success(buffer):
            guard buffer.readableBytes > 0 else {
                return fail(status: .internalServerError, reason: "the source returned no bytes")
            }
            if !headSent {
                headSent = true
                context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
            }
            next += Int64(buffer.readableBytes)
            queuedWrites += 1
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer)))).whenComplete { result in
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
        abandoned = true
        closeReader()
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

    private func closeReader() {
        guard !readerClosed, ticket == nil else { return }
        readerClosed = true
        content.closeReader(reader)
    }

    /// The span's bytes in a buffer: from memory, or read from the cache file at its offset.
    private static func copy(_ span: ReadableSpan, allocator: ByteBufferAllocator) -> ByteBuffer? {
        var buffer = allocator.buffer(capacity: span.length)
        if let memory = span.memory {
            buffer.writeBytes(memory)
            return buffer
        }
        guard span.length > 0, span.fd >= 0 else { return buffer }
        var failed = false
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: span.length) { raw in
            var done = 0
            while done < span.length {
                let got = pread(span.fd, raw.baseAddress! + done, span.length - done, off_t(span.offset) + off_t(done))
                if got < 0, errno == EINTR { continue }
                if got <= 0 {
                    failed = got < 0
                    break
                }
                done += got
            }
            return done
        }
        return failed ? nil : buffer
    }
}
