/// Size bounds for inbound peer messages, so a hostile length prefix is refused before anything of
/// that size is awaited or allocated.
///
/// The length prefix counts the id byte plus the payload. A message is refused as soon as its
/// prefix exceeds `maxMessageLength`, and, once its id byte is visible, when it exceeds the bound
/// for that id (fixed-size messages must match their size exactly).
public struct PeerWireLimits: Sendable, Hashable {
    /// The largest block a `piece` message may carry (BEP 3 practice: 16 KiB).
    public var maxBlockLength: UInt32
    /// The largest `bitfield` payload in bytes: `ceil(pieceCount / 8)` once the torrent is known.
    public var maxBitfieldLength: UInt32
    /// The largest BEP 10 `extended` payload (extension id byte plus body). ut_metadata sends a
    /// 16 KiB metadata block after a small bencoded header, so this must exceed 16 KiB.
    public var maxExtendedLength: UInt32

    /// The default block size.
    public static let standardBlockLength: UInt32 = 16 * 1024

    /// Bounds for a connection whose torrent's piece count is not known yet (e.g. a magnet link):
    /// 16 KiB blocks, bitfields up to 16 KiB + 4 (131,104 pieces), extension messages up to 32 KiB.
    public static let `default` = PeerWireLimits()

    /// Creates bounds. The defaults allow a 16 KiB block (a `piece` message of 16 KiB + 9 bytes,
    /// the length prefix excluded: 16 KiB + 13 with it).
    public init(
        maxBlockLength: UInt32 = standardBlockLength,
        maxBitfieldLength: UInt32 = standardBlockLength + 4,
        maxExtendedLength: UInt32 = 2 * standardBlockLength
    ) {
        self.maxBlockLength = maxBlockLength
        self.maxBitfieldLength = maxBitfieldLength
        self.maxExtendedLength = maxExtendedLength
    }

    /// Bounds for a torrent of `pieceCount` pieces: the bitfield may be exactly as long as the
    /// torrent needs and no longer.
    public init(pieceCount: Int, maxBlockLength: UInt32 = standardBlockLength) {
        let bitfieldBytes = (max(0, pieceCount) + 7) / 8
        self.init(
            maxBlockLength: maxBlockLength,
            maxBitfieldLength: UInt32(clamping: bitfieldBytes),
            maxExtendedLength: 2 * PeerWireLimits.standardBlockLength)
    }

    /// Same as `init(pieceCount:)`; the spelling the Session uses.
    public static func limits(pieceCount: Int) -> PeerWireLimits {
        PeerWireLimits(pieceCount: pieceCount)
    }

    /// The largest length prefix accepted for any message (id byte plus payload).
    public var maxMessageLength: UInt32 {
        let piece = maxBlockLength.addingReportingOverflow(9)
        let bitfield = maxBitfieldLength.addingReportingOverflow(1)
        let extended = maxExtendedLength.addingReportingOverflow(1)
        return max(
            piece.overflow ? .max : piece.partialValue,
            bitfield.overflow ? .max : bitfield.partialValue,
            extended.overflow ? .max : extended.partialValue,
            13)
    }

    /// The largest length prefix accepted for a message with id `id`; unknown ids may use up to
    /// `maxMessageLength` and are skipped.
    func maxLength(forID id: UInt8) -> UInt32 {
        guard let known = PeerMessageID(rawValue: id) else { return maxMessageLength }
        if let fixed = known.fixedLength { return fixed }
        switch known {
        case .piece: return maxBlockLength &+ 9
        case .bitfield: return maxBitfieldLength &+ 1
        case .extended: return maxExtendedLength &+ 1
        default: return maxMessageLength
        }
    }
}
