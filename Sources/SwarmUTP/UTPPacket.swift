/// One uTP packet (BEP 29): the 20-byte header, the selective-ack extension when present, and
/// the payload. Parsing is strict about the header and bounded everywhere else: the datagram
/// came from anyone on the Internet.
///
/// Header, big-endian: `type<<4 | version`, first extension type, connection id (16),
/// timestamp in microseconds (32), timestamp difference (32), receive window (32),
/// sequence number (16), ack number (16). Extensions follow as `next type, length, bytes`.
public struct UTPPacket: Sendable, Equatable {
    /// The packet types of BEP 29.
    public enum Kind: UInt8, Sendable {
        /// Payload; consumes a sequence number.
        case data = 0
        /// The sender finished sending; consumes a sequence number.
        case fin = 1
        /// An ack with no payload; consumes no sequence number.
        case state = 2
        /// The connection is gone.
        case reset = 3
        /// Opens a connection; consumes a sequence number.
        case syn = 4
    }

    public static let version: UInt8 = 1
    public static let headerLength = 20
    /// Extension type of the selective ack.
    static let selectiveAckExtension: UInt8 = 1
    /// The longest selective-ack bitmask we read (bits beyond are ignored): 1024 packets, more
    /// than any receive window we would fill with 1200-byte packets and far more than libtorrent sends.
    public static let maxSelectiveAckBytes = 128
    /// Extensions we walk before giving up on a packet (a chain of empty ones is legal but useless).
    static let maxExtensions = 8

    public var kind: Kind
    public var connectionID: UInt16
    public var timestamp: UInt32
    public var timestampDifference: UInt32
    public var windowSize: UInt32
    public var sequenceNumber: UInt16
    public var ackNumber: UInt16
    /// Selective-ack bitmask (bit i of byte j: packet `ackNumber + 2 + 8j + i` received); we send
    /// multiples of 4 bytes (BEP 29), and read any length (libtorrent's are 1-32 bytes); empty
    /// when absent.
    public var selectiveAck: [UInt8]
    public var payload: ArraySlice<UInt8>

    public init(kind: Kind, connectionID: UInt16, timestamp: UInt32 = 0, timestampDifference: UInt32 = 0,
                windowSize: UInt32 = 0, sequenceNumber: UInt16, ackNumber: UInt16, selectiveAck: [UInt8] = [],
                payload: ArraySlice<UInt8> = []) {
        self.kind = kind
        self.connectionID = connectionID
        self.timestamp = timestamp
        self.timestampDifference = timestampDifference
        self.windowSize = windowSize
        self.sequenceNumber = sequenceNumber
        self.ackNumber = ackNumber
        self.selectiveAck = selectiveAck
        self.payload = payload
    }

    /// Whether a datagram looks like uTP at all (version 1, a known type): the engine's UDP socket
    /// also carries KRPC (which starts with `d`, 0x64: version 4, so never this).
    public static func looksLikeUTP(firstByte: UInt8) -> Bool {
        firstByte & 0x0f == version && (firstByte >> 4) <= Kind.syn.rawValue
    }

    /// Parses one datagram.
    public static func parse(_ bytes: some RandomAccessCollection<UInt8>) throws(UTPPacketError) -> UTPPacket {
        let bytes = Array(bytes)
        guard bytes.count >= headerLength else { throw .tooShort(bytes.count) }
        guard bytes[0] & 0x0f == version else { throw .badVersion(bytes[0] & 0x0f) }
        guard let kind = Kind(rawValue: bytes[0] >> 4) else { throw .badType(bytes[0] >> 4) }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }
        var next = bytes[1]
        var offset = headerLength
        var selectiveAck: [UInt8] = []
        var seen = 0
        while next != 0 {
            seen += 1
            guard seen <= maxExtensions else { throw .tooManyExtensions }
            guard offset + 2 <= bytes.count else { throw .truncatedExtension }
            let type = next
            next = bytes[offset]
            let length = Int(bytes[offset + 1])
            offset += 2
            guard length <= bytes.count - offset else { throw .truncatedExtension }
            if type == selectiveAckExtension {
                // BEP 29 says a multiple of 4 bytes; libtorrent sends whatever covers its
                // out-of-order packets (1-32 bytes). Any non-empty mask reads the same way.
                guard length >= 1 else { throw .badSelectiveAck(length) }
                selectiveAck = Array(bytes[offset..<(offset + min(length, maxSelectiveAckBytes))])
            }
            offset += length
        }
        return UTPPacket(kind: kind, connectionID: u16(2), timestamp: u32(4), timestampDifference: u32(8),
                         windowSize: u32(12), sequenceNumber: u16(16), ackNumber: u16(18),
                         selectiveAck: selectiveAck, payload: bytes[offset...])
    }

    /// The datagram's length once encoded.
    public var encodedLength: Int {
        Self.headerLength + (selectiveAck.isEmpty ? 0 : 2 + selectiveAck.count) + payload.count
    }

    /// Appends the datagram to `out`. `selectiveAck` must be at most 255 bytes (its length is one byte).
    public func encode(into out: inout [UInt8]) {
        precondition(selectiveAck.count <= 255, "selective ack of \(selectiveAck.count) bytes")
        out.reserveCapacity(out.count + encodedLength)
        out.append(kind.rawValue << 4 | Self.version)
        out.append(selectiveAck.isEmpty ? 0 : Self.selectiveAckExtension)
        func put16(_ value: UInt16) { out.append(UInt8(value >> 8)); out.append(UInt8(value & 0xff)) }
        func put32(_ value: UInt32) {
            out.append(UInt8(value >> 24)); out.append(UInt8((value >> 16) & 0xff))
            out.append(UInt8((value >> 8) & 0xff)); out.append(UInt8(value & 0xff))
        }
        put16(connectionID)
        put32(timestamp)
        put32(timestampDifference)
        put32(windowSize)
        put16(sequenceNumber)
        put16(ackNumber)
        if !selectiveAck.isEmpty {
            out.append(0)
            out.append(UInt8(selectiveAck.count))
            out.append(contentsOf: selectiveAck)
        }
        out.append(contentsOf: payload)
    }

    /// The encoded datagram.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Whether the selective ack says packet `sequence` was received.
    public func selectivelyAcks(_ sequence: UInt16) -> Bool {
        let bit = Int(sequence &- ackNumber &- 2)
        guard bit < selectiveAck.count * 8 else { return false }
        return selectiveAck[bit / 8] & (1 << (bit % 8)) != 0
    }
}

/// Why a datagram is not a uTP packet we accept.
public enum UTPPacketError: Error, Equatable, Sendable {
    case tooShort(Int)
    case badVersion(UInt8)
    case badType(UInt8)
    case truncatedExtension
    case tooManyExtensions
    case badSelectiveAck(Int)
}
