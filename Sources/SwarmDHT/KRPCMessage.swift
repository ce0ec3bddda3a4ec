import SwarmMetainfo

/// One KRPC message (BEP 5): a bencoded dictionary in one UDP datagram, a query, a response or
/// an error, with the transaction id that pairs a response with its query.
///
/// Decoding (`init(decoding:)`) is bounded by the limits below and lenient where BEP 5 asks it
/// to be (unknown keys ignored, unknown query names kept as `.unknown`); encoding
/// (`encoded()`) writes canonical bencode.
public struct KRPCMessage: Sendable, Hashable {
    /// What the message is.
    public enum Body: Sendable, Hashable {
        /// `y` = `q`.
        case query(KRPCQuery)
        /// `y` = `r`.
        case response(KRPCResponse)
        /// `y` = `e`: an error code (201 generic, 202 server, 203 protocol, 204 method unknown)
        /// and the message's raw bytes (at most `maxErrorMessageLength`; longer ones are cut).
        case error(code: Int64, message: [UInt8])
    }

    /// `t`: chosen by the querying node, echoed in the response; at most `maxTransactionIDLength` bytes.
    public var transactionID: [UInt8]
    /// The query, response or error.
    public var body: Body
    /// `v`: the sender's client and version (BEP 20 style, usually 4 bytes); dropped when longer
    /// than `maxClientVersionLength`.
    public var clientVersion: [UInt8]?
    /// `ro` = 1 (BEP 43): the sender is read-only and must not be added to routing tables.
    public var readOnly: Bool
    /// `ip` (BEP 42): the address the responder saw the querying node at, compact 6 or 18 bytes.
    public var requesterAddress: PeerAddress?

    /// The largest datagram decoded; BEP 5 messages fit in a few hundred bytes.
    public static let maxDatagramLength = 8 * 1024
    /// The longest transaction id accepted (BEP 5: "typically 2 characters are enough").
    public static let maxTransactionIDLength = 16
    /// The longest token accepted (BEP 5: "a short binary string").
    public static let maxTokenLength = 64
    /// The longest query name accepted.
    public static let maxMethodLength = 32
    /// The longest `v` kept.
    public static let maxClientVersionLength = 16
    /// The longest error message kept.
    public static let maxErrorMessageLength = 256
    /// The most nodes kept from one of `nodes` and `nodes6` (K is 8).
    public static let maxNodesPerFamily = 16
    /// The most peers kept from `values` (libtorrent answers with up to 100).
    public static let maxValues = 100

    /// A message with these parts.
    public init(transactionID: [UInt8], body: Body, clientVersion: [UInt8]? = nil, readOnly: Bool = false,
                requesterAddress: PeerAddress? = nil) {
        self.transactionID = transactionID
        self.body = body
        self.clientVersion = clientVersion
        self.readOnly = readOnly
        self.requesterAddress = requesterAddress
    }
}

/// The queries of BEP 5; every one carries the querying node's id.
public enum KRPCQuery: Sendable, Hashable {
    /// `ping`: are you there?
    case ping(id: NodeID)
    /// `find_node`: the nodes you know closest to `target`.
    case findNode(id: NodeID, target: NodeID)
    /// `get_peers`: peers of `infoHash`, or the nodes you know closest to it, and a token.
    case getPeers(id: NodeID, infoHash: InfoHash)
    /// `announce_peer`: the querying node's peer downloads `infoHash` on `port` (or, when
    /// `impliedPort`, on the datagram's source port); `token` is from an earlier `get_peers`.
    case announcePeer(id: NodeID, infoHash: InfoHash, port: UInt16, impliedPort: Bool, token: [UInt8])
    /// A query name this node does not implement (answered with error 204); `id` when the
    /// arguments carried a valid one.
    case unknown(method: [UInt8], id: NodeID?)

    /// The querying node's id, when known.
    public var senderID: NodeID? {
        switch self {
        case let .ping(id), let .findNode(id, _), let .getPeers(id, _), let .announcePeer(id, _, _, _, _): id
        case let .unknown(_, id): id
        }
    }

    /// The query name (`q`).
    public var method: [UInt8] {
        switch self {
        case .ping: Array("ping".utf8)
        case .findNode: Array("find_node".utf8)
        case .getPeers: Array("get_peers".utf8)
        case .announcePeer: Array("announce_peer".utf8)
        case let .unknown(method, _): method
        }
    }
}

/// The return values of a response (`r`); which ones are present depends on the query answered.
public struct KRPCResponse: Sendable, Hashable {
    /// The responding node's id.
    public var id: NodeID
    /// `nodes` then `nodes6`: the closest nodes the responder knows (IPv4 and IPv6 together;
    /// encoding puts each in its family's key).
    public var nodes: [NodeContact]
    /// `values`: peers of the info-hash asked for (IPv4 and IPv6 compact strings).
    public var values: [PeerAddress]
    /// `token`: to present in a later `announce_peer` to the responder.
    public var token: [UInt8]?

    /// A response from `id`.
    public init(id: NodeID, nodes: [NodeContact] = [], values: [PeerAddress] = [], token: [UInt8]? = nil) {
        self.id = id
        self.nodes = nodes
        self.values = values
        self.token = token
    }
}
