import NIOCore
import SwarmBencode
import SwarmMetainfo

/// The BEP 10 extension handshake: the bencoded dictionary sent as extended message id 0.
///
/// Decoding is lenient about what it does not understand (unknown keys and keys of the wrong type
/// are ignored, as BEP 10 asks) and strict about size and shape (it must be a bencoded dictionary).
/// Every field it keeps is bounded: at most `maxExtensionCount` names in `m`, each at most
/// `maxNameLength` bytes; `v` at most `maxClientNameLength` bytes; `metadata_size` at most
/// `MetadataLayout.maxTotalSize`. A value out of bounds is dropped like an ill-typed one, except
/// `reqq`, which is clamped to `maxRequestQueue` (a huge queue still means "many").
public struct ExtensionHandshake: Sendable, Hashable {
    /// Extension names to the message ids the sender wants them sent with (`m`). An id of 0 means
    /// the sender disables that extension.
    public var m: [String: UInt8]
    /// The sender's client name and version (`v`).
    public var clientName: String?
    /// How many outstanding requests the sender queues (`reqq`).
    public var reqq: Int?
    /// The sender's listening TCP port (`p`).
    public var listenPort: UInt16?
    /// Our address as the sender sees it (`yourip`): 4 or 16 raw bytes.
    public var yourIP: [UInt8]?
    /// The size of the info dictionary in bytes (`metadata_size`, BEP 9).
    public var metadataSize: Int?

    /// The largest handshake accepted or decoded; real ones are a few hundred bytes.
    public static let maxEncodedLength = 32 * 1024
    /// The most extension names kept from `m` (libtorrent sends about ten).
    public static let maxExtensionCount = 64
    /// The longest extension name kept.
    public static let maxNameLength = 64
    /// The longest client name (`v`) kept.
    public static let maxClientNameLength = 128
    /// The largest `reqq` believed.
    public static let maxRequestQueue = 65_535
    /// The `m` name of BEP 9 metadata exchange.
    public static let metadataExtension = "ut_metadata"
    /// The `m` name of BEP 11 peer exchange.
    public static let pexExtension = "ut_pex"

    /// Creates a handshake to send.
    public init(
        m: [String: UInt8] = [:], clientName: String? = nil, reqq: Int? = nil,
        listenPort: UInt16? = nil, yourIP: [UInt8]? = nil, metadataSize: Int? = nil
    ) {
        self.m = m
        self.clientName = clientName
        self.reqq = reqq
        self.listenPort = listenPort
        self.yourIP = yourIP
        self.metadataSize = metadataSize
    }

    /// Decodes the payload of an extended message with id 0 (the bytes after the id byte).
    public init(decoding payload: ByteBuffer) throws(PeerWireError) {
        guard payload.readableBytes <= ExtensionHandshake.maxEncodedLength else {
            throw .badExtensionHandshake(detail: "\(payload.readableBytes) bytes is too large")
        }
        let limits = BencodeLimits(maxDepth: 8, maxInputSize: ExtensionHandshake.maxEncodedLength, maxElementCount: 4096)
        let value: BencodeValue
        do {
            // Some clients pad the message; only the leading dictionary counts.
            value = try BencodeDecoder(limits: limits).decodePrefix(Array(payload.readableBytesView)).value
        } catch {
            throw .badExtensionHandshake(detail: "\(error)")
        }
        guard value.dictionary != nil else { throw .badExtensionHandshake(detail: "not a dictionary") }
        self.init()
        for entry in value["m"]?.dictionary ?? [] where m.count < Self.maxExtensionCount {
            guard entry.key.count <= Self.maxNameLength, let name = entry.keyString,
                  let id = entry.value.integer, (0...255).contains(id) else { continue }
            m[name] = UInt8(id)
        }
        clientName = value["v"]?.string.flatMap { $0.utf8.count <= Self.maxClientNameLength ? $0 : nil }
        reqq = value["reqq"]?.integer.flatMap { $0 > 0 ? Int(min($0, Int64(Self.maxRequestQueue))) : nil }
        listenPort = value["p"]?.integer.flatMap { (1...65535).contains($0) ? UInt16($0) : nil }
        yourIP = value["yourip"]?.bytes.flatMap { $0.count == 4 || $0.count == 16 ? $0 : nil }
        metadataSize = value["metadata_size"]?.integer.flatMap {
            (1...Int64(MetadataLayout.maxTotalSize)).contains($0) ? Int($0) : nil
        }
    }

    /// The id the sender wants extension `name` sent with; nil when it did not name it or
    /// disabled it (id 0).
    public func messageID(for name: String) -> UInt8? {
        m[name].flatMap { $0 == 0 ? nil : $0 }
    }

    /// `yourip` as an address.
    public var yourIPAddress: IPAddress? { yourIP.flatMap { IPAddress(bytes: $0) } }

    /// The bencoded dictionary, ready to be the payload of `PeerMessage.extended(id: 0, ...)`.
    public func encoded() -> ByteBuffer {
        var entries: [BencodeDictionaryEntry] = []
        let extensions = m.sorted { $0.key < $1.key }.map { BencodeDictionaryEntry($0.key, .integer(Int64($0.value))) }
        entries.append(BencodeDictionaryEntry("m", .dictionary(extensions)))
        if let metadataSize { entries.append(BencodeDictionaryEntry("metadata_size", .integer(Int64(metadataSize)))) }
        if let listenPort { entries.append(BencodeDictionaryEntry("p", .integer(Int64(listenPort)))) }
        if let reqq { entries.append(BencodeDictionaryEntry("reqq", .integer(Int64(reqq)))) }
        if let clientName { entries.append(BencodeDictionaryEntry("v", .string(clientName))) }
        if let yourIP { entries.append(BencodeDictionaryEntry("yourip", .bytes(yourIP))) }
        return ByteBuffer(bytes: BencodeEncoder.encode(.dictionary(entries)))
    }
}
