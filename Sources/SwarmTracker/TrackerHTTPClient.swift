import AsyncHTTPClient

/// The HTTP client trackers use when the caller gives none.
enum TrackerHTTPClient {
    /// Process-wide and never shut down, like `HTTPClient.shared`, but tuned for trackers: a
    /// refused connection fails at once instead of being retried until the connect timeout (a dead
    /// tracker must not hold up the next tier), few redirects, no decompression (bodies are small
    /// and bounded).
    static let shared: HTTPClient = {
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(60))
        pool.retryConnectionEstablishment = false
        let configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 5, allowCycles: false),
            timeout: .init(connect: .seconds(10), read: .seconds(30)),
            connectionPool: pool)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
