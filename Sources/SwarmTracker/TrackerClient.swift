import AsyncHTTPClient
import NIOCore

/// One tracker URL (http, https or udp). Reusable across announces.
public protocol TrackerClient: Sendable {
    /// The tracker's URL as given.
    var url: String { get }

    /// Announces `request`, giving up after `timeout` (including all UDP retransmissions).
    func announce(_ request: AnnounceRequest, timeout: Duration) async throws(TrackerError) -> AnnounceResponse
}

/// Options for tracker clients; the defaults follow the BEPs.
public struct TrackerClientOptions: Sendable, Hashable {
    /// UDP retransmission schedule (BEP 15: 15 s · 2^n).
    public var udpRetransmit: UDPRetransmitPolicy
    /// The largest HTTP response body accepted; bigger ones fail without being buffered.
    public var maxHTTPResponseBytes: Int

    /// Creates options.
    public init(udpRetransmit: UDPRetransmitPolicy = .bep15, maxHTTPResponseBytes: Int = 2 << 20) {
        self.udpRetransmit = udpRetransmit
        self.maxHTTPResponseBytes = maxHTTPResponseBytes
    }
}

/// Makes the client for one tracker URL.
///
/// - Parameters:
///   - eventLoopGroup: runs UDP sockets.
///   - httpClient: used for http(s) trackers; nil means a process-wide client tuned for trackers
///     (fails fast on refused connections) that needs no shutdown.
/// - Throws: `.unsupportedScheme` for anything but http, https and udp, or an unparseable URL.
public func makeTrackerClient(
    url: String, eventLoopGroup: any EventLoopGroup, httpClient: HTTPClient?,
    options: TrackerClientOptions = TrackerClientOptions()
) throws(TrackerError) -> any TrackerClient {
    let target = try TrackerURL(url)
    switch target.scheme {
    case .http, .https:
        return HTTPTrackerClient(
            url: url, httpClient: httpClient ?? TrackerHTTPClient.shared, maxResponseBytes: options.maxHTTPResponseBytes)
    case .udp:
        return UDPTrackerClient(url: url, target: target, eventLoopGroup: eventLoopGroup, retransmit: options.udpRetransmit)
    }
}
