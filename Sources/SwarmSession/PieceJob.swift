import SwarmContent
import SwarmMetainfo
import SwarmStorage

/// What became of a completed piece on the thread pool.
enum PieceOutcome: Sendable {
    /// Hashed and written; `served` are the ids of the reads the job answered.
    case stored(served: Set<UInt64>)
    case hashMismatch
    /// Verified but not stored; `served` were answered from memory before the write failed.
    case storageFailed(StorageError, served: Set<UInt64>)
}

/// The pool half of a completed piece: hash it, answer the reads that waited for it alone, write
/// it to the cache, and mark it verified. Runs off the loop, so it holds only what is safe to
/// share (the store, the checkpointer, the gate of verified pieces) and reports an outcome the
/// Foreman acts on back on its loop.
struct PieceJob: Sendable {
    let piece: Int
    let size: Int
    let expected: ArraySlice<UInt8>
    /// Where the piece starts in the torrent's byte stream.
    let pieceStart: Int64
    /// The reads handed to this job, each with the torrent offset of its file.
    let reads: [(read: PieceJobRead, fileOffset: Int64)]
    let store: PieceStore
    let checkpointer: Checkpointer
    let verified: VerifiedPieces

    func run(on buffer: PieceBuffer) -> PieceOutcome {
        let bytes = buffer.prefix(size)
        guard PieceHasher.verify(bytes, expected: expected) else { return .hashMismatch }
        // Reads inside this piece are answered from its memory before the write: a seek (and a
        // stream at the download's edge) waits for the hash, not also for the disk.
        var served = Set<UInt64>()
        for (read, fileOffset) in reads {
            let start = Int(fileOffset + read.offset - pieceStart)
            guard start >= 0, start + read.length <= size else { continue }
            read.completion(.success(ReadableSpan(memory: UnsafeRawBufferPointer(rebasing: bytes[start..<start + read.length]))))
            served.insert(read.id)
        }
        do throws(StorageError) {
            try store.writePiece(piece, from: bytes)
        } catch {
            return .storageFailed(error, served: served)
        }
        checkpointer.pieceWritten(piece)
        verified.insert(piece)
        for (read, _) in reads where !served.contains(read.id) && verified.beginRead(read.pieces) {
            read.completion(ReadDesk.span(store: store, fileIndex: read.fileIndex, offset: read.offset, length: read.length))
            verified.endRead(read.pieces)
            served.insert(read.id)
        }
        return .stored(served: served)
    }
}
