import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How an `HTTPServer` listens and protects itself.
public struct HTTPServerConfiguration: Sendable {
    /// The address to bind (default loopback only: anything else is an explicit choice).
    public var host: String = "127.0.0.1"
    /// The TCP port (0: any free port; `HTTPServer.port` tells which).
    public var port: Int = 0
    /// Connections beyond this many are closed at once (200 idle ones cost a few KiB each).
    public var maxConnections = 512
    /// How long a connection may take to send a complete request head, counted from when it
    /// opened or its last response ended: the keep-alive idle limit, and what stops a client
    /// that trickles its headers (slowloris).
    public var requestTimeout: TimeAmount = .seconds(20)
    /// How long a response may stay stuck because the client reads nothing (the socket's send
    /// buffer full) before the connection is closed and its reader released.
    public var stallTimeout: TimeAmount = .seconds(60)
    /// Bytes asked of the source per read: the first read of a response is small, for a quick
    /// first byte; each next one doubles up to `chunk`, for throughput (each read is a round
    /// trip through the source: 4 MiB reads stream ~1.35x faster than 1 MiB ones, see
    /// Benchmarks/http). At most one read is outstanding per connection, and the next starts
    /// only while the socket takes more and at most one chunk waits to be written, so a
    /// connection holds at most two chunks (`FileStream`); chunks of the cache file are sent
    /// with sendfile and hold no memory at all.
    public var firstChunk = 64 * 1024
    public var chunk = 4 * 1024 * 1024

    public init() {}
}

/// The HTTP/1.1 server (SwiftNIO's NIOHTTP1): the web page, `/status.json`, M3U playlists and
/// files streamed with Range support from an `HTTPCatalog`, over the same read API the FUSE
/// filesystem uses (`TorrentContentSource`: one reader per response, with its own readahead).
public final class HTTPServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let tracker: ConnectionTracker
    private let stopped = Mutex(false)
    /// The port actually bound.
    public let port: Int
    /// `HOST:PORT` as bound (IPv6 in brackets), for URLs when a request has no usable Host.
    public let authority: String

    private init(group: MultiThreadedEventLoopGroup, tracker: ConnectionTracker, channel: any Channel, host: String, port: Int) {
        self.group = group
        self.tracker = tracker
        self.channel = channel
        self.port = port
        authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Binds and starts serving. Throws `HTTPServerError.bind` if the address cannot be used.
    /// Blocking: for the mount daemons' plain threads (async code uses `start(...) async`).
    @available(*, noasync, message: "use the async start")
    public static func start(catalog: any HTTPCatalog, configuration: HTTPServerConfiguration,
                             logger: Logger) throws(HTTPServerError) -> HTTPServer {
        let (group, tracker, bind) = prepare(catalog: catalog, configuration: configuration, logger: logger)
        do {
            return finish(group: group, tracker: tracker, channel: try bind.wait(), configuration: configuration, logger: logger)
        } catch {
            try? group.syncShutdownGracefully()
            throw .bind(host: configuration.host, port: configuration.port, detail: "\(error)")
        }
    }

    /// Binds and starts serving (see the synchronous `start`).
    public static func start(catalog: any HTTPCatalog, configuration: HTTPServerConfiguration,
                             logger: Logger) async throws(HTTPServerError) -> HTTPServer {
        let (group, tracker, bind) = prepare(catalog: catalog, configuration: configuration, logger: logger)
        do {
            return finish(group: group, tracker: tracker, channel: try await bind.get(), configuration: configuration, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw .bind(host: configuration.host, port: configuration.port, detail: "\(error)")
        }
    }

    private static func prepare(catalog: any HTTPCatalog, configuration: HTTPServerConfiguration,
                                logger: Logger) -> (MultiThreadedEventLoopGroup, ConnectionTracker, EventLoopFuture<any Channel>) {
        // One thread: a connection's work is small (the reads run elsewhere), and the machine's
        // cores are better left to the engine and FUSE.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let connections = ConnectionTracker(limit: configuration.maxConnections)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            // Writable while at most one full chunk waits for the socket: the next chunk is then
            // read while this one is sent; a second one queued makes the channel unwritable, which
            // stops reading (and starts the stall timer) until the client takes bytes again.
            .childChannelOption(.writeBufferWaterMark, value: Self.waterMark(chunk: configuration.chunk))
            .childChannelInitializer { channel in
                guard connections.enter(channel) else {
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in connections.leave(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withPipeliningAssistance: true, withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPConnectionHandler(catalog: catalog, configuration: configuration, tracker: connections,
                                              logger: logger))
                }
            }
        return (group, connections, bootstrap.bind(host: configuration.host, port: configuration.port))
    }

    static func waterMark(chunk: Int) -> ChannelOptions.Types.WriteBufferWaterMark {
        let high = min(64 << 20, max(64 * 1024, chunk)) + 64 * 1024
        return .init(low: high / 2, high: high)
    }

    private static func finish(group: MultiThreadedEventLoopGroup, tracker: ConnectionTracker, channel: any Channel,
                               configuration: HTTPServerConfiguration, logger: Logger) -> HTTPServer {
        let port = channel.localAddress?.port ?? configuration.port
        logger.info("http serving", metadata: ["address": "\(configuration.host):\(port)"])
        HTTPServerWarmUp.run(on: group, to: channel.localAddress)
        return HTTPServer(group: group, tracker: tracker, channel: channel, host: configuration.host, port: port)
    }

    /// Stops listening, closes every connection (their pending reads are cancelled and their
    /// readers closed) and ends the server's thread. Blocking; calling it again does nothing.
    @available(*, noasync, message: "use the async stop")
    public func stop() {
        guard claimStop() else { return }
        try? channel.close().wait()
        for connection in tracker.openChannels { try? connection.close().wait() }
        waitForCancelledReads { usleep(10_000) }
        try? group.syncShutdownGracefully()
    }

    /// As the synchronous `stop()`.
    public func stop() async {
        guard claimStop() else { return }
        try? await channel.close().get()
        for connection in tracker.openChannels { try? await connection.close().get() }
        for _ in 0..<Self.cancelWaitSteps where tracker.readsInFlight > 0 {
            try? await Task.sleep(for: .milliseconds(10))
        }
        try? await group.shutdownGracefully()
    }

    /// Closing a connection cancels its read; the source answers a cancelled read at once, but
    /// one that does not is not waited for longer than 2 s.
    private static let cancelWaitSteps = 200

    private func waitForCancelledReads(sleep: () -> Void) {
        for _ in 0..<Self.cancelWaitSteps where tracker.readsInFlight > 0 { sleep() }
    }

    private func claimStop() -> Bool {
        stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
    }
}

/// Why the server could not start.
public enum HTTPServerError: Error, Sendable, CustomStringConvertible {
    case bind(host: String, port: Int, detail: String)

    public var description: String {
        switch self {
        case let .bind(host, port, detail): "cannot listen for HTTP on \(host):\(port): \(detail)"
        }
    }
}

/// The server's open connections (against a limit) and its reads in flight, so that `stop()`
/// can close every connection and let each cancelled read come back to its event loop before
/// the loop ends (a completion must never be handed to a loop that is gone).
///
/// Invariants: `channels.count <= limit`; `readsInFlight` counts reads asked of a source whose
/// outcome has not yet been handled on the loop.
final class ConnectionTracker: Sendable {
    private let state = Mutex<(channels: [ObjectIdentifier: any Channel], readsInFlight: Int)>(([:], 0))
    let limit: Int

    init(limit: Int) { self.limit = max(1, limit) }

    /// Takes a place for `channel`; false when the limit is reached.
    func enter(_ channel: any Channel) -> Bool {
        state.withLock { state in
            guard state.channels.count < limit else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func leave(_ channel: any Channel) {
        _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func readStarted() { state.withLock { $0.readsInFlight += 1 } }
    func readHandled() { state.withLock { $0.readsInFlight -= 1 } }

    var openChannels: [any Channel] { state.withLock { Array($0.channels.values) } }
    var readsInFlight: Int { state.withLock { $0.readsInFlight } }
}
