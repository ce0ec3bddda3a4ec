import SwarmContent
import SwarmMetainfo
import SwarmPieces

extension SessionStatus {
    /// What the Foreman publishes: progress from `have` (the pieces readers may read), rates and
    /// totals from the meters, and the picker's view of reads and pieces in memory. Disk usage is
    /// not measured here: `StatusBoard` keeps its own, refreshed lazily.
    static func snapshot(metainfo: Metainfo, have: Bitfield, download: RateMeter, upload: RateMeter, peers: Int,
                         cacheDiskBytes: Int64, pendingReads: Int, picker: PiecePicker) -> SessionStatus {
        let layout = metainfo.layout
        var verifiedBytes: Int64 = 0
        for piece in 0..<layout.pieceCount where have[piece] { verifiedBytes += Int64(layout.pieceSize(piece)) }
        let files = metainfo.userFiles.map { file in
            FileStatus(path: file.path.joined(separator: "/"), length: file.length,
                       verifiedBytes: verifiedLength(of: file, have: have, layout: layout))
        }
        return SessionStatus(
            infoHash: metainfo.infoHash.hex, name: metainfo.name, totalLength: layout.totalLength,
            verifiedBytes: verifiedBytes, verifiedPieces: have.setCount, pieceCount: layout.pieceCount,
            downloadedBytes: download.total, uploadedBytes: upload.total,
            downloadRate: download.bytesPerSecond, uploadRate: upload.bytesPerSecond,
            peers: peers, cacheDiskBytes: cacheDiskBytes,
            pendingReads: pendingReads, piecesWaitingForReaders: picker.piecesWaitingForReaders,
            piecesInMemory: picker.piecesInProgress, pieceMemoryLimit: picker.maxPiecesInProgress,
            files: files)
    }

    /// Verified bytes of one file: the parts of its pieces in `have` that lie inside it.
    private static func verifiedLength(of file: TorrentFile, have: Bitfield, layout: FileLayout) -> Int64 {
        guard file.length > 0 else { return 0 }
        var total: Int64 = 0
        for piece in layout.pieces(file: file.index, offset: 0, length: file.length) where have[piece] {
            let start = max(layout.pieceOffset(piece), file.offset)
            let end = min(layout.pieceOffset(piece) + Int64(layout.pieceSize(piece)), file.offset + file.length)
            total += end - start
        }
        return total
    }
}
