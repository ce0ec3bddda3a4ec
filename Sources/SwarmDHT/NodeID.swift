import SwarmMetainfo

/// A 160-bit DHT node id (BEP 5), also the key space of info-hashes. Compared as a big-endian
/// unsigned integer, so `a.distance(to: t) < b.distance(to: t)` means `a` is closer to `t`.
///
/// Stored as three integers (bytes 0-7, 8-15, 16-19, big-endian) so XOR and comparison do not
/// allocate; `bytes` gives the 20 wire bytes.
public struct NodeID: Hashable, Sendable, Comparable, CustomStringConvertible {
    private var high: UInt64
    private var middle: UInt64
    private var low: UInt32

    /// The number of bytes in an id.
    public static let byteCount = 20
    /// The number of bits in an id.
    public static let bitCount = 160
    /// The all-zero id.
    public static let zero = NodeID(high: 0, middle: 0, low: 0)

    private init(high: UInt64, middle: UInt64, low: UInt32) {
        self.high = high
        self.middle = middle
        self.low = low
    }

    /// Reads 20 big-endian bytes; nil for any other count.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        let raw = Array(bytes)
        func word(_ range: Range<Int>) -> UInt64 { raw[range].reduce(0) { $0 << 8 | UInt64($1) } }
        self.init(high: word(0..<8), middle: word(8..<16), low: UInt32(word(16..<20)))
    }

    /// The point of the key space an info-hash names.
    public init(infoHash: InfoHash) {
        // An InfoHash is always 20 bytes.
        self = NodeID(bytes: infoHash.bytes) ?? .zero
    }

    /// A uniformly random id.
    public static func random(using generator: inout some RandomNumberGenerator) -> NodeID {
        NodeID(high: generator.next(), middle: generator.next(), low: UInt32(truncatingIfNeeded: generator.next() as UInt64))
    }

    /// The 20 bytes, big-endian.
    public var bytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(Self.byteCount)
        for shift in stride(from: 56, through: 0, by: -8) { output.append(UInt8(truncatingIfNeeded: high >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { output.append(UInt8(truncatingIfNeeded: middle >> UInt64(shift))) }
        for shift in stride(from: 24, through: 0, by: -8) { output.append(UInt8(truncatingIfNeeded: low >> UInt32(shift))) }
        return output
    }

    /// The XOR distance (BEP 5): smaller is closer.
    public func distance(to other: NodeID) -> NodeID {
        NodeID(high: high ^ other.high, middle: middle ^ other.middle, low: low ^ other.low)
    }

    /// How many leading bits `self` and `other` share: 160 when they are equal.
    public func commonPrefixLength(with other: NodeID) -> Int {
        let distance = distance(to: other)
        if distance.high != 0 { return distance.high.leadingZeroBitCount }
        if distance.middle != 0 { return 64 + distance.middle.leadingZeroBitCount }
        return 128 + distance.low.leadingZeroBitCount  // 32 leading zeros when low is 0 too
    }

    /// Bit `index` counted from the most significant (0) to the least (159); false outside 0..<160.
    public func bit(_ index: Int) -> Bool {
        switch index {
        case 0..<64: high >> UInt64(63 - index) & 1 == 1
        case 64..<128: middle >> UInt64(127 - index) & 1 == 1
        case 128..<160: low >> UInt32(159 - index) & 1 == 1
        default: false
        }
    }

    /// A random id that shares the first `prefixLength` bits (clamped to 0...160) with `self`;
    /// the bit after them is flipped when `flipNext` (an id in a bucket's range that is not the
    /// own id's side of it, for refreshing that bucket).
    public func random(sharingPrefix prefixLength: Int, flipNext: Bool,
                       using generator: inout some RandomNumberGenerator) -> NodeID {
        let length = min(max(prefixLength, 0), Self.bitCount)
        let noise = NodeID.random(using: &generator)
        // mask: the first `length` bits set.
        func mask(bits: Int, width: Int) -> UInt64 {
            bits <= 0 ? 0 : bits >= width ? (width == 64 ? .max : (1 << UInt64(width)) - 1)
                : ((1 << UInt64(bits)) - 1) << UInt64(width - bits)
        }
        let highMask = mask(bits: length, width: 64)
        let middleMask = mask(bits: length - 64, width: 64)
        let lowMask = UInt32(mask(bits: length - 128, width: 32))
        var result = NodeID(high: (high & highMask) | (noise.high & ~highMask),
                            middle: (middle & middleMask) | (noise.middle & ~middleMask),
                            low: (low & lowMask) | (noise.low & ~lowMask))
        if length < Self.bitCount {
            // Force bit `length` to equal (or differ from) ours.
            if result.bit(length) != (bit(length) != flipNext) { result.toggle(bit: length) }
        }
        return result
    }

    private mutating func toggle(bit index: Int) {
        switch index {
        case 0..<64: high ^= 1 << UInt64(63 - index)
        case 64..<128: middle ^= 1 << UInt64(127 - index)
        case 128..<160: low ^= 1 << UInt32(159 - index)
        default: break
        }
    }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        (lhs.high, lhs.middle, lhs.low) < (rhs.high, rhs.middle, rhs.low)
    }

    /// 40 lowercase hex digits.
    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
