import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

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
    /// Bytes asked of the source per read: the first read of a response is smaller, for a quick
    /// first byte; later ones larger, for throughput. At most one read is outstanding per
    /// connection, and the next starts only while the socket takes more and at most one chunk
    /// waits to be written, so a connection holds at most two chunks (`FileStream`).
    public var firstChunk = 256 * 1024
    public var chunk = 1024 * 1024

    public init() {}
}

/// The HTTP/1.1 server (SwiftNIO's NIOHTTP1): the web page, `/status.json`, M3U playlists and
/// files streamed with Range support from an `HTTPCatalog`, over the same read API the FUSE
/// filesystem uses (`TorrentContentSource`: one reader per response, with its own readahead).
public final class HTTPServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let stopped = Mutex(false)
    /// The port actually bound.
    public let port: Int
    /// `HOST:PORT` as bound (IPv6 in brackets), for URLs when a request has no usable Host.
    public let authority: String

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel, host: String, port: Int) {
        self.group = group
        self.channel = channel
        self.port = port
        authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Binds and starts serving. Throws `HTTPServerError.bind` if the address cannot be used.
    /// Blocking: for the mount daemons' plain threads (async code uses `start(...) async`).
    @available(*, noasync, message: "use the async start")
    public static func start(catalog: any HTTPCatalog, configuration: HTTPServerConfiguration,
                             logger: Logger) throws(HTTPServerError) -> HTTPServer {
        let (group, bind) = prepare(catalog: catalog, configuration: configuration, logger: logger)
        do {
            return finish(group: group, channel: try bind.wait(), configuration: configuration, logger: logger)
        } catch {
            try? group.syncShutdownGracefully()
            throw .bind(host: configuration.host, port: configuration.port, detail: "\(error)")
        }
    }

    /// Binds and starts serving (see the synchronous `start`).
    public static func start(catalog: any HTTPCatalog, configuration: HTTPServerConfiguration,
                             logger: Logger) async throws(HTTPServerError) -> HTTPServer {
        let (group, bind) = prepare(catalog: catalog, configuration: configuration, logger: logger)
        do {
            return finish(group: group, channel: try await bind.get(), configuration: configuration, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw .bind(host: configuration.host, port: configuration.port, detail: "\(error)")
        }
    }

    private static func prepare(catalog: any HTTPCatalog, configuration: HTTPServerConfiguration,
                                logger: Logger) -> (MultiThreadedEventLoopGroup, EventLoopFuture<any Channel>) {
        // One thread: a connection's work is small (the reads run elsewhere), and the machine's
        // cores are better left to the engine and FUSE.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let connections = ConnectionCount(limit: configuration.maxConnections)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                guard connections.enter() else {
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in connections.leave() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withPipeliningAssistance: true, withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPConnectionHandler(catalog: catalog, configuration: configuration, logger: logger))
                }
            }
        return (group, bootstrap.bind(host: configuration.host, port: configuration.port))
    }

    private static func finish(group: MultiThreadedEventLoopGroup, channel: any Channel,
                               configuration: HTTPServerConfiguration, logger: Logger) -> HTTPServer {
        let port = channel.localAddress?.port ?? configuration.port
        logger.info("http serving", metadata: ["address": "\(configuration.host):\(port)"])
        return HTTPServer(group: group, channel: channel, host: configuration.host, port: port)
    }

    /// Stops listening, closes every connection (their pending reads are cancelled and their
    /// readers closed) and ends the server's thread. Blocking; calling it again does nothing.
    @available(*, noasync, message: "use the async stop")
    public func stop() {
        guard claimStop() else { return }
        try? channel.close().wait()
        // Closing the group closes every child channel, which cancels their reads.
        try? group.syncShutdownGracefully()
    }

    /// As the synchronous `stop()`.
    public func stop() async {
        guard claimStop() else { return }
        try? await channel.close().get()
        try? await group.shutdownGracefully()
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

/// Counts open connections against a limit. Invariant: 0 <= count <= limit.
final class ConnectionCount: Sendable {
    private let count = Mutex(0)
    let limit: Int

    init(limit: Int) { self.limit = max(1, limit) }

    /// Takes a place; false when the limit is reached.
    func enter() -> Bool {
        count.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func leave() { count.withLock { $0 = max(0, $0 - 1) } }

    var current: Int { count.withLock { $0 } }
}
