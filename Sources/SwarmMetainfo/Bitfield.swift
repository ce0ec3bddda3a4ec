/// Why wire bytes are not a valid bitfield for a torrent.
public enum BitfieldError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The byte count is not ceil(count / 8).
    case wrongLength(expected: Int, actual: Int)
    /// A bit past `count` in the last byte is set.
    case spareBitsSet

    public var description: String {
        switch self {
        case let .wrongLength(expected, actual): "bitfield has \(actual) bytes, expected \(expected)"
        case .spareBitsSet: "bitfield has spare bits set past the last piece"
        }
    }
}

/// One bit per piece, in BEP 3 wire order (high bit of the first byte is piece 0).
public struct Bitfield: Sendable, Hashable {
    /// Number of pieces (bits).
    public let count: Int
    private var storage: [UInt8]
    /// Number of set bits, maintained on every write.
    public private(set) var setCount: Int

    /// `count` bits, all false.
    public init(count: Int) {
        self.count = max(0, count)
        self.storage = [UInt8](repeating: 0, count: (self.count + 7) / 8)
        self.setCount = 0
    }

    /// Parses a peer's bitfield: exactly ceil(count / 8) bytes with the spare bits zero.
    public init(wireBytes: some Collection<UInt8>, count: Int) throws(BitfieldError) {
        let expected = (max(0, count) + 7) / 8
        guard wireBytes.count == expected else {
            throw .wrongLength(expected: expected, actual: wireBytes.count)
        }
        let bytes = Array(wireBytes)
        let spare = expected * 8 - max(0, count)
        if spare > 0, let last = bytes.last, last & UInt8((1 << spare) - 1) != 0 {
            throw .spareBitsSet
        }
        self.count = max(0, count)
        self.storage = bytes
        self.setCount = bytes.reduce(0) { $0 + $1.nonzeroBitCount }
    }

    /// `count` bits, all true.
    public static func full(count: Int) -> Bitfield {
        var bitfield = Bitfield(count: count)
        guard bitfield.count > 0 else { return bitfield }
        for index in bitfield.storage.indices { bitfield.storage[index] = 0xff }
        let spare = bitfield.storage.count * 8 - bitfield.count
        bitfield.storage[bitfield.storage.count - 1] = UInt8(0xff) << spare
        bitfield.setCount = bitfield.count
        return bitfield
    }

    /// Bit `i`. Reading outside `0..<count` yields false and writing there does nothing, so a
    /// hostile index cannot trap (callers validate indices from the wire anyway).
    public subscript(i: Int) -> Bool {
        get {
            guard i >= 0, i < count else { return false }
            return storage[i >> 3] & (0x80 >> UInt8(i & 7)) != 0
        }
        set {
            guard i >= 0, i < count else { return }
            let mask: UInt8 = 0x80 >> UInt8(i & 7)
            let old = storage[i >> 3] & mask != 0
            guard old != newValue else { return }
            if newValue {
                storage[i >> 3] |= mask
                setCount += 1
            } else {
                storage[i >> 3] &= ~mask
                setCount -= 1
            }
        }
    }

    /// True when every bit is set (also for an empty bitfield).
    public var isComplete: Bool { setCount == count }

    /// True when no bit is set.
    public var isEmpty: Bool { setCount == 0 }

    /// The BEP 3 wire bytes (spare bits zero).
    public var wireBytes: [UInt8] { storage }

    /// Indices of the set bits, ascending.
    public var setIndices: [Int] {
        var result: [Int] = []
        result.reserveCapacity(setCount)
        for (byteIndex, byte) in storage.enumerated() where byte != 0 {
            for bit in 0..<8 where byte & (0x80 >> UInt8(bit)) != 0 {
                result.append(byteIndex * 8 + bit)
            }
        }
        return result
    }
}
