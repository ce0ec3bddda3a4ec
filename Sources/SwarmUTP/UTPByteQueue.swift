/// A FIFO of bytes: appended at the back, taken from the front, compacted when half is dead.
/// The send queue and the in-order receive queue of a `UTPConnection`.
struct UTPByteQueue: Sendable {
    private var storage: [UInt8] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }

    mutating func append(contentsOf bytes: some Collection<UInt8>) {
        storage.append(contentsOf: bytes)
    }

    /// Up to `limit` bytes from the front, removed.
    mutating func take(_ limit: Int) -> [UInt8] {
        let n = min(limit, count)
        let taken = Array(storage[head..<(head + n)])
        head += n
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 * 1024, head * 2 >= storage.count {
            storage.removeSubrange(0..<head)
            head = 0
        }
        return taken
    }
}
