import SwarmMetainfo

/// The event an announce reports (BEP 3; UDP codes from BEP 15).
public enum AnnounceEvent: Sendable, Hashable {
    /// A regular re-announce.
    case none
    /// The first announce of a download.
    case started
    /// The download just completed.
    case completed
    /// We are leaving the swarm.
    case stopped

    /// The HTTP `event` parameter value; nil for `none` (the parameter is omitted).
    var httpValue: String? {
        switch self {
        case .none: nil
        case .started: "started"
        case .completed: "completed"
        case .stopped: "stopped"
        }
    }

    /// The BEP 15 event code.
    var udpCode: UInt32 {
        switch self {
        case .none: 0
        case .completed: 1
        case .started: 2
        case .stopped: 3
        }
    }
}

/// What we tell a tracker in an announce.
public struct AnnounceRequest: Sendable, Hashable {
    /// The torrent.
    public var infoHash: InfoHash
    /// Our 20-byte peer id.
    public var peerID: [UInt8]
    /// Our listening TCP port.
    public var port: UInt16
    /// Bytes uploaded since `started`.
    public var uploaded: Int64
    /// Bytes downloaded since `started`.
    public var downloaded: Int64
    /// Bytes still missing.
    public var left: Int64
    /// Why we announce.
    public var event: AnnounceEvent
    /// How many peers we would like (trackers cap it).
    public var numWant: Int
    /// A random value, stable for the session, that lets a tracker recognise us across IP changes.
    public var key: UInt32
    /// The `tracker id` a tracker gave us earlier; `TrackerSet` fills it in per tracker.
    public var trackerID: String?

    /// Creates a request.
    public init(
        infoHash: InfoHash, peerID: [UInt8], port: UInt16, uploaded: Int64 = 0, downloaded: Int64 = 0,
        left: Int64, event: AnnounceEvent = .none, numWant: Int = 50, key: UInt32 = 0, trackerID: String? = nil
    ) {
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = port
        self.uploaded = uploaded
        self.downloaded = downloaded
        self.left = left
        self.event = event
        self.numWant = numWant
        self.key = key
        self.trackerID = trackerID
    }
}
