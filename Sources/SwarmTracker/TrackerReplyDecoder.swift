import NIOCore

/// Public entry points to the tracker reply decoders, for code outside this module that holds a
/// reply's bytes without a client around it (the fuzz targets and their corpus replay tests).
///
/// These are the decoders `HTTPTrackerClient` and `UDPTrackerClient` use; nothing is re-implemented.
public enum TrackerReplyDecoder {
    /// A decoded BEP 15 reply to a connect or announce request.
    public enum UDPReply: Sendable, Equatable {
        /// A connect reply and the connection id it grants.
        case connected(connectionID: UInt64)
        /// An announce reply.
        case announced(AnnounceResponse)
        /// An error reply and its (lossily decoded) message.
        case error(String)
    }

    /// Decodes the bencoded body of an HTTP announce reply from tracker `url`.
    public static func decodeHTTPAnnounce(_ body: [UInt8], url: String) throws(TrackerError) -> AnnounceResponse {
        try HTTPTrackerResponse.parse(body, url: url)
    }

    /// The transaction id of a UDP reply, or nil when the datagram is too short to carry one.
    public static func udpTransactionID(of datagram: [UInt8]) -> UInt32? {
        UDPTrackerPacket.transactionID(of: ByteBuffer(bytes: datagram))
    }

    /// Decodes a UDP tracker datagram; `ipv6Peers` selects 18-byte peer entries.
    public static func decodeUDP(_ datagram: [UInt8], ipv6Peers: Bool, url: String) throws(TrackerError) -> UDPReply {
        switch try UDPTrackerPacket.parse(ByteBuffer(bytes: datagram), ipv6Peers: ipv6Peers, url: url) {
        case .connected(let connectionID): .connected(connectionID: connectionID)
        case .announced(let response): .announced(response)
        case .error(let message): .error(message)
        }
    }
}
