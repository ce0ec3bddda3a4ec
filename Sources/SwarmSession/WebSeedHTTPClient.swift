import AsyncHTTPClient

/// The HTTP client web seeds are fetched with. Process-wide and never shut down, like
/// `HTTPClient.shared`: idle connections are kept a minute (a web seed gets a request every few
/// MiB), redirects followed (archive.org's seeds redirect to the server that holds the item), a
/// connection is given 10 s and a silent response 30 s.
enum WebSeedHTTPClient {
    static let shared: HTTPClient = {
        let pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(60))
        let configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 5, allowCycles: false),
            timeout: .init(connect: .seconds(10), read: .seconds(30)),
            connectionPool: pool)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
