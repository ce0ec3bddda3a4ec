/// Fetches an info dictionary from peers, piece by piece (BEP 9), and accepts it only when its
/// SHA-1 is the info-hash. Pure bookkeeping: the caller sends the requests it hands out, feeds
/// back what arrives, and reads the time from its clock.
///
/// `Peer` is whatever the caller names connections by (a connection id, an address).
///
/// Invariants:
/// - a piece is in exactly one state: missing, outstanding at exactly one peer, or received;
/// - a peer has at most `maxOutstandingPerPeer` outstanding pieces;
/// - a received piece has exactly the length `layout` gives it, and `contributors` names the
///   peer it came from;
/// - `receivedCount` is the number of received pieces; once it reaches `layout.pieceCount` the
///   whole is hashed at once, and either `verified` is set or everything is dropped.
public struct MetadataAssembler<Peer: Hashable & Sendable>: Sendable {
    /// What a data block led to.
    public enum Progress: Sendable, Equatable {
        /// Stored; more pieces are missing.
        case stored
        /// The last piece arrived and the whole hashes to the info-hash: these are the exact
        /// bytes of the info dictionary.
        case complete(infoDictionary: [UInt8])
        /// The last piece arrived but the whole does not hash to the info-hash. Every piece was
        /// dropped (fetching starts over); `contributors` are the peers that sent any of them,
        /// to be penalised.
        case verificationFailed(contributors: Set<Peer>)
    }

    /// The torrent whose info dictionary this fetches.
    public let infoHash: InfoHash
    /// The pieces of the info dictionary.
    public let layout: MetadataLayout
    /// The most pieces outstanding at one peer at a time.
    public let maxOutstandingPerPeer: Int
    /// How long a request may go unanswered before the piece is handed to another peer.
    public let requestTimeout: Duration

    private var blocks: [[UInt8]?]
    private var contributors: [Peer?]
    private var outstanding: [Int: (peer: Peer, since: ContinuousClock.Instant)] = [:]
    /// Peers that rejected a request: they do not have the metadata, so they get no more requests.
    private var decliners: Set<Peer> = []
    private(set) public var receivedCount = 0
    /// The verified info dictionary, once complete.
    private(set) public var verified: [UInt8]?

    /// An assembler for a `totalSize`-byte info dictionary (a peer's `metadata_size`); throws
    /// when the size is outside 1 byte...32 MiB.
    public init(infoHash: InfoHash, totalSize: Int64, maxOutstandingPerPeer: Int = 3,
                requestTimeout: Duration = .seconds(30)) throws(MetadataError) {
        self.infoHash = infoHash
        self.layout = try MetadataLayout(totalSize: totalSize)
        self.maxOutstandingPerPeer = max(1, maxOutstandingPerPeer)
        self.requestTimeout = requestTimeout
        blocks = Array(repeating: nil, count: layout.pieceCount)
        contributors = Array(repeating: nil, count: layout.pieceCount)
    }

    /// True once the info dictionary is verified.
    public var isComplete: Bool { verified != nil }

    /// The peer that sent piece `piece`; nil while it is missing (and after a failed verification).
    public func contributor(ofPiece piece: Int) -> Peer? {
        contributors.indices.contains(piece) ? contributors[piece] : nil
    }

    /// The pieces outstanding at `peer`, in index order.
    public func outstandingPieces(at peer: Peer) -> [Int] {
        outstanding.filter { $0.value.peer == peer }.map(\.key).sorted()
    }

    /// The pieces to request from `peer` now (lowest missing first, none already outstanding
    /// anywhere), up to its free slots; they count as outstanding at `peer` from `now`.
    public mutating func requests(for peer: Peer, now: ContinuousClock.Instant) -> [Int] {
        guard verified == nil, !decliners.contains(peer) else { return [] }
        var room = maxOutstandingPerPeer - outstanding.values.count(where: { $0.peer == peer })
        var pieces: [Int] = []
        var piece = 0
        while room > 0, piece < blocks.count {
            if blocks[piece] == nil, outstanding[piece] == nil {
                outstanding[piece] = (peer, now)
                pieces.append(piece)
                room -= 1
            }
            piece += 1
        }
        return pieces
    }

    /// A data block from `peer` (a `ut_metadata` data message: its `piece`, `total_size` and the
    /// bytes after the dictionary). Throws, storing nothing, when the piece does not exist, was
    /// not requested from `peer`, or the sizes are wrong; the peer then misbehaved.
    public mutating func received(piece: Int64, totalSize: Int64, data: some Collection<UInt8>,
                                  from peer: Peer) throws(MetadataError) -> Progress {
        guard totalSize == Int64(layout.totalSize) else {
            throw .totalSizeMismatch(stated: totalSize, expected: layout.totalSize)
        }
        guard piece >= 0, piece < Int64(layout.pieceCount), let expected = layout.length(ofPiece: Int(piece)) else {
            throw .pieceOutOfRange(piece: piece, pieceCount: layout.pieceCount)
        }
        let index = Int(piece)
        guard let request = outstanding[index], request.peer == peer else { throw .notRequested(piece: index) }
        guard data.count == expected else {
            throw .wrongBlockLength(piece: index, length: data.count, expected: expected)
        }
        outstanding[index] = nil
        blocks[index] = Array(data)
        contributors[index] = peer
        receivedCount += 1
        guard receivedCount == blocks.count else { return .stored }
        return verifyWhole()
    }

    /// `peer` rejected its request for `piece` (it does not have the metadata): the piece is
    /// free again and `peer` gets no further requests.
    public mutating func rejected(piece: Int64, by peer: Peer) {
        decliners.insert(peer)
        if piece >= 0, piece < Int64(blocks.count), outstanding[Int(piece)]?.peer == peer {
            outstanding[Int(piece)] = nil
        }
    }

    /// `peer` disconnected: its outstanding pieces are free again, and it is forgotten (a new
    /// connection from it may be asked again).
    public mutating func peerGone(_ peer: Peer) {
        outstanding = outstanding.filter { $0.value.peer != peer }
        decliners.remove(peer)
    }

    /// Frees every request older than `requestTimeout` at `now` and returns them (peer and
    /// piece, by piece index), so the caller can count the peer as slow.
    public mutating func expireRequests(now: ContinuousClock.Instant) -> [(peer: Peer, piece: Int)] {
        let expired = outstanding.filter { now - $0.value.since >= requestTimeout }
        for piece in expired.keys { outstanding[piece] = nil }
        return expired.map { (peer: $0.value.peer, piece: $0.key) }.sorted { $0.piece < $1.piece }
    }

    /// Hashes the complete set; keeps it on a match, drops everything otherwise.
    private mutating func verifyWhole() -> Progress {
        var whole: [UInt8] = []
        whole.reserveCapacity(layout.totalSize)
        for block in blocks { whole += block ?? [] }
        if InfoHash.sha1(of: whole) == infoHash {
            verified = whole
            blocks = Array(repeating: nil, count: blocks.count)
            return .complete(infoDictionary: whole)
        }
        let guilty = Set(contributors.compactMap { $0 })
        blocks = Array(repeating: nil, count: blocks.count)
        contributors = Array(repeating: nil, count: contributors.count)
        receivedCount = 0
        return .verificationFailed(contributors: guilty)
    }
}
