import SwarmBencode
import SwarmMetainfo

/// The routing table saved in the state folder between runs (BEP 5: "The routing table should
/// be saved between invocations"): a bencoded dictionary of our id and the compact nodes,
///
///     d 2:id 20:<own id> 5:nodes <26 bytes each> 6:nodes6 <38 bytes each> 1:v i1e e
///
/// Only nodes that are not bad are saved, and no times: a restored node has not been heard from
/// in this run, so it starts questionable and is pinged before it is trusted.
extension RoutingTable {
    /// Why saved state was not restored.
    public enum StateError: Error, Sendable, Equatable, CustomStringConvertible {
        /// Over `maxStateLength` bytes.
        case tooLarge(length: Int)
        /// Not a bencoded dictionary, or a field is missing or malformed.
        case malformed(detail: String)
        /// A `v` this version does not read.
        case unsupportedVersion(Int64)

        public var description: String {
            switch self {
            case let .tooLarge(length): "DHT state of \(length) bytes exceeds \(RoutingTable.maxStateLength)"
            case let .malformed(detail): "DHT state is malformed: \(detail)"
            case let .unsupportedVersion(version): "DHT state version \(version) is not supported"
            }
        }
    }

    /// The format version written.
    public static let stateVersion: Int64 = 1
    /// The largest state read: a full table of IPv6 nodes with room to spare.
    public static let maxStateLength = maxBuckets * bucketSize * NodeContact.compactLengthIPv6 + 1024

    /// The state to save: our id and every node that is not bad.
    public func serialised(now: ContinuousClock.Instant) -> [UInt8] {
        let nodes = entries.filter { $0.state(at: now) != .bad }.map(\.contact)
        var dictionary: [BencodeDictionaryEntry] = [
            BencodeDictionaryEntry("id", .bytes(ownID.bytes)),
            BencodeDictionaryEntry("v", .integer(Self.stateVersion)),
        ]
        let v4 = NodeContact.encodeCompactList(nodes, addressLength: 4)
        if !v4.isEmpty { dictionary.append(BencodeDictionaryEntry("nodes", .bytes(v4))) }
        let v6 = NodeContact.encodeCompactList(nodes, addressLength: 16)
        if !v6.isEmpty { dictionary.append(BencodeDictionaryEntry("nodes6", .bytes(v6))) }
        return BencodeEncoder.encode(.dictionary(dictionary))
    }

    /// Restores a table from `serialised()` output: the saved id (or `ownID` when given, e.g. a
    /// BEP 42 id for a new external address) and the saved nodes, filed as `.heardOf` at `now`
    /// by the usual rules, so the table keeps its bounds whatever the file holds.
    public init(restoring state: [UInt8], ownID: NodeID? = nil, now: ContinuousClock.Instant) throws(StateError) {
        guard state.count <= Self.maxStateLength else { throw .tooLarge(length: state.count) }
        let value: BencodeValue
        do {
            value = try BencodeDecoder(limits: BencodeLimits(maxDepth: 2, maxInputSize: Self.maxStateLength,
                                                             maxElementCount: 64)).decode(state)
        } catch {
            throw .malformed(detail: "\(error)")
        }
        guard value.dictionary != nil else { throw .malformed(detail: "not a dictionary") }
        guard let version = value["v"]?.integer else { throw .malformed(detail: "no integer 'v'") }
        guard version == Self.stateVersion else { throw .unsupportedVersion(version) }
        guard let rawID = value["id"]?.bytes, let savedID = NodeID(bytes: rawID) else {
            throw .malformed(detail: "no 20-byte 'id'")
        }
        var contacts: [NodeContact] = []
        for (key, length) in [("nodes", 4), ("nodes6", 16)] {
            guard let field = value[key] else { continue }
            guard let raw = field.bytes, let list = NodeContact.decodeCompactList(raw, addressLength: length) else {
                throw .malformed(detail: "'\(key)' is not a whole number of compact nodes")
            }
            contacts += list
        }
        self.init(ownID: ownID ?? savedID, now: now)
        for contact in contacts { _ = observe(contact, .heardOf, now: now) }
    }
}
