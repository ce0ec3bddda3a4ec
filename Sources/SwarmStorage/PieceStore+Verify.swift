import Crypto

extension PieceStore {
    /// Bytes read per step when hash-checking a stored piece.
    static let verifyChunkSize = 64 * 1024

    /// Whether the piece as stored has the SHA-1 `expected`.
    ///
    /// Reads the piece in 64 KiB steps through one small buffer that stays in the CPU cache, instead
    /// of a piece-sized buffer per call: serving a complete cache hash-checks every piece once, and
    /// a fresh 1 MiB buffer each time cost a page fault per 4 KiB and an munmap (about a third of
    /// the daemon's CPU for a cold read of the whole torrent).
    /// - Throws: what reading throws (`.missingFile`, `.shortFile`, `.io`) — a piece that cannot
    ///   be read is not a hash mismatch.
    public func storedPieceMatches(_ piece: Int, expected: ArraySlice<UInt8>) throws(StorageError) -> Bool {
        let size = layout.pieceSize(piece)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.verifyChunkSize, alignment: 64)
        defer { buffer.deallocate() }
        var hasher = Insecure.SHA1()
        var begin = 0
        while begin < size {
            let length = min(Self.verifyChunkSize, size - begin)
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
            try readBlock(piece: piece, begin: begin, into: chunk)
            hasher.update(bufferPointer: UnsafeRawBufferPointer(chunk))
            begin += length
        }
        return hasher.finalize().withUnsafeBytes { $0.elementsEqual(expected) }
    }
}
