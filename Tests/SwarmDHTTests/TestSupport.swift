import SwarmDHT
import SwarmMetainfo

/// A manual clock: time moves only when a test says so.
struct ManualClock {
    private(set) var now = ContinuousClock.now
    mutating func advance(by duration: Duration) { now = now.advanced(by: duration) }
}


extension NodeID {
    /// An id from 40 hex digits; traps on a typo in a test.
    init(hex: String) {
        let digits = Array(hex.utf8)
        let bytes = stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<($0 + 2)], as: UTF8.self), radix: 16)! }
        self = NodeID(bytes: bytes)!
    }

    /// An id from 20 ASCII characters, as BEP 5's examples write them.
    init(ascii: String) {
        self = NodeID(bytes: Array(ascii.utf8))!
    }
}

/// A contact at 10.0.x.y (not BEP 42 checked) with `id`.
func contact(_ id: NodeID, _ index: Int, port: UInt16 = 6881) -> NodeContact {
    NodeContact(id: id, ip: IPAddress(bytes: [10, UInt8(index >> 16 & 0xff), UInt8(index >> 8 & 0xff), UInt8(index & 0xff)])!,
                port: port)
}
