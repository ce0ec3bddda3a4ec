import Logging
import NIOCore
import NIOHTTP1
import SwarmContent
import SwarmFS

/// One HTTP connection: routes each request and answers it, streaming files through a
/// `FileStream`. Everything here runs on the connection's event loop.
///
/// Invariants: at most one response is in progress (`HTTPServerPipelineHandler` holds later
/// pipelined requests back until it ends); `requestTimer` runs exactly while the connection
/// waits for a request head; `stream` is non-nil exactly while a file body is being sent.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let catalog: any HTTPCatalog
    private let configuration: HTTPServerConfiguration
    private let tracker: ConnectionTracker
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var head: HTTPRequestHead?
    private var requestTimer: Scheduled<Void>?
    private var stallTimer: Scheduled<Void>?
    private var stream: FileStream?
    private var responding = false
    /// The request being answered.
    private var currentRequest: HTTPRequestHead?

    init(catalog: any HTTPCatalog, configuration: HTTPServerConfiguration, tracker: ConnectionTracker, logger: Logger) {
        self.catalog = catalog
        self.configuration = configuration
        self.tracker = tracker
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { armRequestTimer() }
    }

    func channelActive(context: ChannelHandlerContext) {
        armRequestTimer()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        requestTimer?.cancel()
        requestTimer = nil
        stallTimer?.cancel()
        stallTimer = nil
        stream?.abandon()
        stream = nil
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(requestHead):
            requestTimer?.cancel()
            requestTimer = nil
            head = requestHead
        case .body:
            // GET and HEAD carry no body worth reading; what comes is dropped as it arrives.
            break
        case .end:
            guard let requestHead = head, !responding else { return }
            head = nil
            responding = true
            currentRequest = requestHead
            respond(to: requestHead)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stallTimer?.cancel()
            stallTimer = nil
            stream?.pump()
        } else if stream != nil, stallTimer == nil {
            let channel = context.channel
            stallTimer = context.eventLoop.scheduleTask(in: configuration.stallTimeout) {
                channel.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("http connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: Requests

    private func armRequestTimer() {
        guard let context, requestTimer == nil else { return }
        let channel = context.channel
        requestTimer = context.eventLoop.scheduleTask(in: configuration.requestTimeout) {
            channel.close(promise: nil)
        }
    }

    private func respond(to request: HTTPRequestHead) {
        guard request.method == .GET || request.method == .HEAD else {
            var headers = HTTPHeaders([("Allow", "GET, HEAD")])
            return sendSimple(request, status: .methodNotAllowed, headers: &headers, body: "only GET and HEAD\n")
        }
        switch HTTPRoute.parse(target: request.uri) {
        case .page:
            sendAsset(request, name: nil)
        case let .asset(name):
            sendAsset(request, name: name)
        case .status:
            let documents = catalog.torrents().map { $0.statusJSON() }
            var headers = HTTPHeaders([("Content-Type", "application/json"), ("Cache-Control", "no-store")])
            sendSimple(request, status: .ok, headers: &headers,
                       body: "{\"torrents\":[" + documents.joined(separator: ",") + "]}\n")
        case .playlistAll:
            sendPlaylist(request, torrents: catalog.torrents())
        case let .playlist(infoHash):
            guard let torrent = catalog.torrent(infoHash) else { return sendNotFound(request) }
            sendPlaylist(request, torrents: [torrent])
        case let .file(infoHash, path):
            guard let torrent = catalog.torrent(infoHash), let file = torrent.file(at: path) else {
                return sendNotFound(request)
            }
            sendFile(request, torrent: torrent, file: file)
        case .notFound:
            sendNotFound(request)
        case let .badRequest(reason):
            var headers = HTTPHeaders()
            sendSimple(request, status: .badRequest, headers: &headers, body: "bad request: \(reason)\n", close: true)
        }
    }

    private func sendNotFound(_ request: HTTPRequestHead) {
        var headers = HTTPHeaders()
        sendSimple(request, status: .notFound, headers: &headers, body: "not found\n")
    }

    private func sendAsset(_ request: HTTPRequestHead, name: String?) {
        guard let (bytes, type) = WebAssets.asset(name) else { return sendNotFound(request) }
        var headers = HTTPHeaders([
            ("Content-Type", type), ("Cache-Control", "no-cache"),
            // The page loads nothing from elsewhere, and nothing may frame it.
            ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"),
        ])
        sendSimple(request, status: .ok, headers: &headers, bytes: bytes)
    }

    private func sendPlaylist(_ request: HTTPRequestHead, torrents: [HTTPTorrent]) {
        let base = Playlist.base(host: request.headers.first(name: "Host"), fallback: fallbackAuthority)
        var headers = HTTPHeaders([("Content-Type", "audio/x-mpegurl; charset=utf-8"), ("Cache-Control", "no-cache")])
        sendSimple(request, status: .ok, headers: &headers, body: Playlist.m3u(torrents, base: base))
    }

    /// The server's own address, for playlists asked without a usable Host header.
    private var fallbackAuthority: String {
        guard let address = context?.channel.localAddress, let ip = address.ipAddress, let port = address.port else {
            return "127.0.0.1"
        }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    private func sendFile(_ request: HTTPRequestHead, torrent: HTTPTorrent, file: FSFileEntry) {
        let plan = FileResponsePlan.make(method: request.method, headers: request.headers,
                                         infoHash: torrent.infoHash, modified: torrent.modified, file: file)
        var headers = HTTPHeaders(plan.headers)
        guard let range = plan.body else {
            // HEAD, 304, 416 or an empty file: the head says all (its Content-Length is the plan's).
            return sendSimple(request, status: plan.status, headers: &headers, bytes: nil, keepLength: true)
        }
        guard let context else { return }
        let keepAlive = request.isKeepAlive
        Self.markConnection(&headers, keepAlive: keepAlive, version: request.version)
        let responseHead = HTTPResponseHead(version: request.version, status: plan.status, headers: headers)
        stream = FileStream(
            context: context, handler: NIOLoopBound(self, eventLoop: context.eventLoop),
            content: torrent.content, fileIndex: file.fileIndex, range: range, head: responseHead,
            firstChunk: configuration.firstChunk, chunk: configuration.chunk, tracker: tracker)
        stream?.start()
    }

    /// Called by the stream when its body ended (`succeeded`) or failed before or while sending.
    func streamEnded(keepAlive: Bool, failure: (status: HTTPResponseStatus, reason: String)?, headSent: Bool) {
        stream = nil
        stallTimer?.cancel()
        stallTimer = nil
        guard let context else { return }
        if let failure {
            logger.debug("http read failed", metadata: ["reason": "\(failure.reason)"])
            guard !headSent, let request = currentRequest else {
                // The client was promised more bytes than it will get: only closing says so.
                context.close(promise: nil)
                return
            }
            var headers = HTTPHeaders()
            return sendSimple(request, status: failure.status, headers: &headers, body: failure.reason + "\n", close: true)
        }
        finishResponse(keepAlive: keepAlive)
    }

    private func sendSimple(_ request: HTTPRequestHead, status: HTTPResponseStatus, headers: inout HTTPHeaders,
                            body: String, close: Bool = false) {
        sendSimple(request, status: status, headers: &headers, bytes: Array(body.utf8), close: close)
    }

    /// Sends a whole response. `bytes` nil (a HEAD, or a file's head without body) keeps the
    /// Content-Length already in `headers` (`keepLength`) and sends no body.
    private func sendSimple(_ request: HTTPRequestHead, status: HTTPResponseStatus, headers: inout HTTPHeaders,
                            bytes: [UInt8]?, close: Bool = false, keepLength: Bool = false) {
        guard let context else { return }
        let keepAlive = request.isKeepAlive && !close
        if !keepLength { headers.replaceOrAdd(name: "Content-Length", value: String(bytes?.count ?? 0)) }
        if !headers.contains(name: "Content-Type"), bytes?.isEmpty == false {
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        }
        headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        Self.markConnection(&headers, keepAlive: keepAlive, version: request.version)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
                      promise: nil)
        if let bytes, !bytes.isEmpty, request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
        }
        finishResponse(keepAlive: keepAlive)
    }

    /// Says whether the connection stays open: `close` when it does not, and `keep-alive` to an
    /// HTTP/1.0 client that asked for it (1.0 closes by default).
    static func markConnection(_ headers: inout HTTPHeaders, keepAlive: Bool, version: HTTPVersion) {
        if !keepAlive {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if version.major == 1, version.minor == 0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
    }

    /// Ends the response; then waits for the next request, or closes.
    private func finishResponse(keepAlive: Bool) {
        guard let context else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { result in
            let handler = loopBound.value
            handler.responding = false
            if keepAlive, case .success = result {
                handler.armRequestTimer()
            } else {
                channel.close(promise: nil)
            }
        }
    }
}
