import NIOCore
import SwarmBencode
import SwarmMetainfo

/// A BEP 11 `ut_pex` message: which peers the sender connected to and dropped since its last one.
///
/// Decoding is bounded and forgiving: at most `maxDecodedPeers` entries are kept from each of
/// `added`, `added6`, `dropped`, `dropped6` (a hostile list costs no more than that); entries
/// with port 0 and repeats are dropped; a flags string whose length does not match its list is
/// ignored (flags 0); an address that is both added and dropped counts as added. Encoding is
/// strict: at most `maxPeersPerMessage` added and as many dropped (BEP 11), IP literals only, no
/// repeats, nothing both added and dropped.
public struct PexMessage: Sendable, Hashable {
    /// A peer the sender is connected to, with the BEP 11 flags it knows of it.
    public struct AddedPeer: Sendable, Hashable {
        /// The peer's listening address (an IP literal).
        public var address: PeerAddress
        /// The `added.f` / `added6.f` bits: see the static masks.
        public var flags: UInt8

        /// Prefers encryption.
        public static let prefersEncryption: UInt8 = 0x01
        /// Is a seed (or upload-only).
        public static let seed: UInt8 = 0x02
        /// Supports uTP.
        public static let supportsUTP: UInt8 = 0x04
        /// Supports `ut_holepunch`.
        public static let supportsHolepunch: UInt8 = 0x08
        /// Reachable: the sender's connection to it was outgoing.
        public static let reachable: UInt8 = 0x10

        /// A peer with `flags`.
        public init(address: PeerAddress, flags: UInt8 = 0) {
            self.address = address
            self.flags = flags
        }
    }

    /// Why a message cannot be encoded.
    public enum EncodingError: Error, Sendable, Equatable, CustomStringConvertible {
        /// More than `maxPeersPerMessage` added or dropped peers: split them over several messages.
        case tooManyPeers(added: Int, dropped: Int, limit: Int)
        /// A host that is not an IP literal (compact lists carry raw addresses only).
        case notAnIPAddress(host: String)
        /// The same address twice in one list, or both added and dropped.
        case repeated(PeerAddress)
        /// Nothing added or dropped: BEP 11 requires at least one entry.
        case empty

        public var description: String {
            switch self {
            case let .tooManyPeers(added, dropped, limit):
                "PEX message with \(added) added and \(dropped) dropped peers exceeds \(limit) of each"
            case let .notAnIPAddress(host): "PEX peer '\(host)' is not an IP address"
            case let .repeated(address): "PEX peer \(address) appears twice"
            case .empty: "a PEX message must add or drop a peer"
            }
        }
    }

    /// Peers connected since the last message (IPv4 and IPv6 together, in order).
    public var added: [AddedPeer]
    /// Peers disconnected since the last message (IPv4 and IPv6 together, in order).
    public var dropped: [PeerAddress]

    /// BEP 11: no more than 50 added and 50 dropped contacts per message.
    public static let maxPeersPerMessage = 50
    /// The most entries decoding keeps from one list (`added`, `added6`, `dropped`, `dropped6`);
    /// a first message may legitimately carry more than 50.
    public static let maxDecodedPeers = 200
    /// The largest payload accepted.
    public static let maxEncodedLength = 32 * 1024

    private static let limits = BencodeLimits(maxDepth: 4, maxInputSize: maxEncodedLength, maxElementCount: 64)

    /// A message adding and dropping these peers.
    public init(added: [AddedPeer] = [], dropped: [PeerAddress] = []) {
        self.added = added
        self.dropped = dropped
    }

    /// Decodes a `ut_pex` payload; throws when it is not a bencoded dictionary (or too large) or a
    /// compact list is not a whole number of entries. Unknown keys are ignored.
    public init(decoding payload: ByteBuffer) throws(PeerWireError) {
        guard payload.readableBytes <= Self.maxEncodedLength else {
            throw .badPexMessage(detail: "\(payload.readableBytes) bytes is too large")
        }
        let value: BencodeValue
        do {
            value = try BencodeDecoder(limits: Self.limits).decodePrefix(Array(payload.readableBytesView)).value
        } catch {
            throw .badPexMessage(detail: "\(error)")
        }
        guard value.dictionary != nil else { throw .badPexMessage(detail: "not a dictionary") }
        var added: [AddedPeer] = []
        for (key, flagsKey, length) in [("added", "added.f", 4), ("added6", "added6.f", 16)] {
            let entries = try Self.entries(value, key, addressLength: length)
            let flags = value[flagsKey]?.bytes ?? []
            let flagsMatch = flags.count == entries.sentCount
            added += entries.peers.map { AddedPeer(address: $0.address, flags: flagsMatch ? flags[$0.position] : 0) }
        }
        let addedAddresses = Set(added.map(\.address))
        var dropped: [PeerAddress] = []
        for (key, length) in [("dropped", 4), ("dropped6", 16)] {
            dropped += try Self.entries(value, key, addressLength: length).peers.map(\.address)
                .filter { !addedAddresses.contains($0) }
        }
        self.init(added: added, dropped: dropped)
    }

    /// The payload to send as `PeerMessage.extended(id: <their ut_pex id>, payload:)`, with
    /// `added.f`/`added6.f` always present for a non-empty added list.
    public func encoded() throws(EncodingError) -> ByteBuffer {
        guard added.count <= Self.maxPeersPerMessage, dropped.count <= Self.maxPeersPerMessage else {
            throw .tooManyPeers(added: added.count, dropped: dropped.count, limit: Self.maxPeersPerMessage)
        }
        guard !added.isEmpty || !dropped.isEmpty else { throw .empty }
        var seen = Set<PeerAddress>()
        var lists: [String: [UInt8]] = ["added": [], "added.f": [], "added6": [], "added6.f": [],
                                        "dropped": [], "dropped6": []]
        for peer in added {
            guard seen.insert(peer.address).inserted else { throw .repeated(peer.address) }
            guard let compact = peer.address.compactBytes else { throw .notAnIPAddress(host: peer.address.host) }
            let family = compact.count == 6 ? "added" : "added6"
            lists[family, default: []] += compact
            lists[family + ".f", default: []].append(peer.flags)
        }
        for address in dropped {
            guard seen.insert(address).inserted else { throw .repeated(address) }
            guard let compact = address.compactBytes else { throw .notAnIPAddress(host: address.host) }
            lists[compact.count == 6 ? "dropped" : "dropped6", default: []] += compact
        }
        let entries = lists.filter { !$0.value.isEmpty }.map { BencodeDictionaryEntry($0.key, .bytes($0.value)) }
        return ByteBuffer(bytes: BencodeEncoder.encode(.dictionary(entries)))
    }

    /// The compact list under `key`: the kept peers with their positions in the list as sent
    /// (where their flags are), and how many entries were sent. Empty when absent or not a string.
    private static func entries(_ value: BencodeValue, _ key: String, addressLength: Int)
        throws(PeerWireError) -> (peers: [(address: PeerAddress, position: Int)], sentCount: Int) {
        guard let raw = value[key]?.bytes else { return ([], 0) }
        let stride = addressLength + 2
        guard raw.count % stride == 0 else {
            throw .badPexMessage(detail: "'\(key)' is \(raw.count) bytes, not a multiple of \(stride)")
        }
        var peers: [(address: PeerAddress, position: Int)] = []
        var seen = Set<PeerAddress>()
        var position = 0
        while position * stride < raw.count, peers.count < maxDecodedPeers {
            let start = position * stride
            let port = UInt16(raw[start + addressLength]) << 8 | UInt16(raw[start + addressLength + 1])
            if port != 0, let ip = IPAddress(bytes: raw[start..<(start + addressLength)]) {
                let address = PeerAddress(ip: ip, port: port)
                if seen.insert(address).inserted { peers.append((address, position)) }
            }
            position += 1
        }
        return (peers, raw.count / stride)
    }
}
