import Crypto
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hashes the pieces of a set of source files on all cores.
///
/// Workers take chunks of consecutive pieces from a shared counter, so reads stay mostly
/// sequential and the cores stay busy; each worker owns one piece-sized buffer, so memory is
/// bounded by `workers * pieceLength` whatever the torrent size.
struct PieceHasher: Sendable {
    let files: [SourceFile]
    let layout: FileLayout
    let workers: Int

    /// Pieces handed to a worker at a time.
    private var chunkPieces: Int { max(1, (4 << 20) / layout.pieceLength) }

    /// The concatenated SHA-1 hashes. `progress(hashedBytes, totalBytes)` is called from worker
    /// threads after each chunk.
    func hashAll(progress: (@Sendable (Int64, Int64) -> Void)?) throws(TorrentBuildError) -> [UInt8] {
        let pieceCount = layout.pieceCount
        let chunkCount = (pieceCount + chunkPieces - 1) / chunkPieces
        let nextChunk = Atomic<Int>(0)
        let hashedBytes = Atomic<Int64>(0)
        let failure = Mutex<TorrentBuildError?>(nil)
        let hashes = Mutex([UInt8](repeating: 0, count: pieceCount * 20))
        let total = layout.totalLength

        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, chunkCount))) { _ in
            var reader = SliceReader(files: files)
            defer { reader.closeAll() }
            var buffer = [UInt8](repeating: 0, count: layout.pieceLength)
            var chunkHashes: [UInt8] = []
            while failure.withLock({ $0 == nil }) {
                let chunk = nextChunk.wrappingAdd(1, ordering: .relaxed).oldValue
                guard chunk < chunkCount else { return }
                let first = chunk * chunkPieces
                let last = min(pieceCount, first + chunkPieces)
                chunkHashes.removeAll(keepingCapacity: true)
                do throws(TorrentBuildError) {
                    for piece in first..<last {
                        let size = layout.pieceSize(piece)
                        try reader.read(layout.slices(piece: piece), into: &buffer)
                        let digest = buffer.withUnsafeBytes { raw in
                            Insecure.SHA1.hash(data: UnsafeRawBufferPointer(rebasing: raw[0..<size]))
                        }
                        chunkHashes.append(contentsOf: digest)
                    }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                    return
                }
                hashes.withLock { all in
                    all.replaceSubrange((first * 20)..<(last * 20), with: chunkHashes)
                }
                let bytes = layout.pieceOffset(last) - layout.pieceOffset(first)
                let done = hashedBytes.wrappingAdd(min(bytes, total), ordering: .relaxed).newValue
                progress?(min(done, total), total)
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return hashes.withLock { $0 }
    }
}

/// Reads file slices into a piece buffer, keeping the most recent file open.
private struct SliceReader {
    let files: [SourceFile]
    private var openIndex = -1
    private var openFD: Int32 = -1

    init(files: [SourceFile]) {
        self.files = files
    }

    mutating func read(_ slices: [FileSlice], into buffer: inout [UInt8]) throws(TorrentBuildError) {
        var position = 0
        for slice in slices {
            let fd = try descriptor(for: slice.fileIndex)
            let file = files[slice.fileIndex]
            var done = 0
            while done < slice.length {
                let count = buffer.withUnsafeMutableBytes { raw in
                    pread(fd, raw.baseAddress.map { $0 + position + done }, slice.length - done,
                          off_t(slice.fileOffset) + off_t(done))
                }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw .readFailed(path: file.displayPath, reason: String(cString: strerror(errno)))
                }
                if count == 0 { throw .fileChanged(path: file.displayPath) }
                done += count
            }
            position += slice.length
        }
    }

    private mutating func descriptor(for index: Int) throws(TorrentBuildError) -> Int32 {
        if index == openIndex { return openFD }
        closeAll()
        let file = files[index]
        let fd = withCPath(file.rawPath) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else {
            throw .readFailed(path: file.displayPath, reason: String(cString: strerror(errno)))
        }
        openIndex = index
        openFD = fd
        return fd
    }

    mutating func closeAll() {
        if openFD >= 0 { close(openFD) }
        openFD = -1
        openIndex = -1
    }
}
