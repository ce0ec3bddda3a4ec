import SwarmContent
import Synchronization

/// A file handle's state: which file it reads and the session reader (readahead window) it owns.
public struct OpenFile: Sendable, Equatable {
    public let inode: UInt64
    public let fileIndex: Int
    public let length: Int64
    public let reader: ReaderID
}

/// Open file handles, by the number the kernel gets back in `fi->fh`.
final class OpenFileTable<File: Sendable>: Sendable {
    private struct State {
        var files: [UInt64: File] = [:]
        var nextHandle: UInt64 = 1
    }
    private let state = Mutex(State())

    func insert(_ makeFile: () -> File) -> UInt64 {
        state.withLock { state in
            let handle = state.nextHandle
            state.nextHandle += 1
            state.files[handle] = makeFile()
            return handle
        }
    }

    func file(_ handle: UInt64) -> File? {
        state.withLock { $0.files[handle] }
    }

    func remove(_ handle: UInt64) -> File? {
        state.withLock { $0.files.removeValue(forKey: handle) }
    }

    func removeAll() -> [File] {
        state.withLock { state in
            defer { state.files.removeAll() }
            return Array(state.files.values)
        }
    }

    var count: Int { state.withLock { $0.files.count } }
}
