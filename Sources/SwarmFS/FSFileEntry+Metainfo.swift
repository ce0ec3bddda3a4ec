import SwarmMetainfo

extension FSFileEntry {
    /// The files a torrent shows, in torrent order: padding files are hidden.
    public static func entries(of metainfo: Metainfo) -> [FSFileEntry] {
        let pieceLength = Int64(metainfo.layout.pieceLength)
        return metainfo.userFiles.map { file in
            let length = Int64(file.length)
            let offset = Int64(file.offset)
            let pieces: ClosedRange<Int>? = length > 0 && pieceLength > 0
                ? Int(offset / pieceLength)...Int((offset + length - 1) / pieceLength)
                : nil
            return FSFileEntry(path: file.path, length: length, fileIndex: file.index, pieces: pieces)
        }
    }
}
