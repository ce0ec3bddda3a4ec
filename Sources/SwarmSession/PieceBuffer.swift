/// Memory for one piece being assembled from blocks. Moves between the event loop (filling) and
/// the thread pool (hashing, writing) but is only ever touched by one of them at a time, which is
/// why it may be `@unchecked Sendable`.
struct PieceBuffer: @unchecked Sendable {
    let memory: UnsafeMutableRawBufferPointer

    func copyIn(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        UnsafeMutableRawBufferPointer(rebasing: memory[offset..<(offset + bytes.count)]).copyMemory(from: bytes)
    }

    func prefix(_ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: memory[0..<count])
    }
}

/// Reuses piece-sized buffers so that assembling pieces allocates nothing in steady state.
/// Confined to the event loop.
final class PieceBufferPool {
    private let bufferSize: Int
    private var free: [PieceBuffer] = []
    private let keepAtMost: Int
    private(set) var outstanding = 0

    init(bufferSize: Int, keepAtMost: Int) {
        self.bufferSize = bufferSize
        self.keepAtMost = keepAtMost
    }

    func take() -> PieceBuffer {
        outstanding += 1
        if let buffer = free.popLast() { return buffer }
        return PieceBuffer(memory: .allocate(byteCount: bufferSize, alignment: 4096))
    }

    func give(_ buffer: PieceBuffer) {
        outstanding -= 1
        if free.count < keepAtMost {
            free.append(buffer)
        } else {
            buffer.memory.deallocate()
        }
    }

    deinit {
        for buffer in free { buffer.memory.deallocate() }
    }
}
