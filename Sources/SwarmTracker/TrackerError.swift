/// Why an announce failed. Every case names the tracker URL.
public enum TrackerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The tracker answered with a `failure reason` (HTTP) or an error action (UDP).
    case failure(url: String, reason: String)
    /// No answer within the deadline (after all UDP retransmissions).
    case timeout(url: String)
    /// The answer could not be understood.
    case malformedResponse(url: String, detail: String)
    /// The connection failed (refused, unreachable, DNS, HTTP status, body too large...).
    case transport(url: String, underlying: String)
    /// The URL's scheme is not http, https or udp (or the URL cannot be parsed).
    case unsupportedScheme(String)

    /// One line of printable text (URLs come from torrent files, reasons from trackers: both
    /// are cut by `TrackerText.oneLine`).
    public var description: String {
        let line = { (text: String) in TrackerText.oneLine(text) }
        return switch self {
        case let .failure(url, reason): "tracker \(line(url)) refused the announce: \(line(reason))"
        case let .timeout(url): "tracker \(line(url)) did not answer in time"
        case let .malformedResponse(url, detail): "tracker \(line(url)) sent a malformed response: \(line(detail))"
        case let .transport(url, underlying): "tracker \(line(url)) is unreachable: \(line(underlying))"
        case let .unsupportedScheme(url): "unsupported tracker URL \(line(url))"
        }
    }
}
