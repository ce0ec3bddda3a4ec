import SwarmMetainfo

/// Per-file progress derived from the verified pieces (for `verify`, `status` and the FS).
public enum FileCompletion {
    /// For each file of the layout, how many of its bytes lie in verified pieces (padding files
    /// report 0; zero-length files report 0 and count as complete).
    public static func verifiedBytes(layout: FileLayout, verified: Bitfield) -> [Int64] {
        let pieceLength = Int64(layout.pieceLength)
        guard pieceLength > 0 else { return layout.files.map { _ in 0 } }
        return layout.files.map { file in
            if file.isPadding || file.length <= 0 { return 0 }
            let end = file.offset + file.length
            let first = Int(file.offset / pieceLength)
            let last = min(Int((end - 1) / pieceLength), layout.pieceCount - 1)
            guard first <= last else { return 0 }
            var total: Int64 = 0
            for piece in first...last where verified[piece] {
                let start = layout.pieceOffset(piece)
                let stop = start + Int64(layout.pieceSize(piece))
                total += max(0, min(stop, end) - max(start, file.offset))
            }
            return total
        }
    }

}
