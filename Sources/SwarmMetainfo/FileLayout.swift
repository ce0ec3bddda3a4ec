/// The geometry of a torrent: files laid end to end in one byte stream, cut into pieces.
///
/// Answers both directions: which pieces cover a byte range of a file, and which file ranges a
/// piece covers (a piece can span many files; files can be empty).
public struct FileLayout: Sendable {
    /// Bytes per piece (the last piece may be shorter). Always >= 1.
    public let pieceLength: Int
    /// Sum of all file lengths, padding included.
    public let totalLength: Int64
    /// All files in torrent order, padding files included.
    public let files: [TorrentFile]

    /// Builds a layout from files in torrent order. Paths are taken as given (already sanitised);
    /// negative lengths count as 0 and a piece length below 1 as 1, so the geometry is always sane.
    public init(pieceLength: Int, files: [(path: [String], length: Int64, isPadding: Bool)]) {
        self.pieceLength = max(1, pieceLength)
        var offset: Int64 = 0
        var built: [TorrentFile] = []
        built.reserveCapacity(files.count)
        for (index, file) in files.enumerated() {
            let length = max(0, file.length)
            built.append(TorrentFile(index: index, path: file.path, length: length, offset: offset,
                                     isPadding: file.isPadding))
            offset += length
        }
        self.files = built
        self.totalLength = offset
    }

    /// Number of pieces: ceil(totalLength / pieceLength).
    public var pieceCount: Int {
        // Not (total + length - 1) / length: a hostile torrent's total may sit near Int64.max.
        let length = Int64(pieceLength)
        return Int(totalLength / length + (totalLength % length == 0 ? 0 : 1))
    }

    /// Byte offset of `piece` in the torrent's byte stream.
    public func pieceOffset(_ piece: Int) -> Int64 {
        Int64(piece) * Int64(pieceLength)
    }

    /// Size of `piece`: `pieceLength` except for a shorter last piece; 0 outside the torrent.
    public func pieceSize(_ piece: Int) -> Int {
        guard piece >= 0, piece < pieceCount else { return 0 }
        return Int(min(Int64(pieceLength), totalLength - pieceOffset(piece)))
    }

    /// The pieces that cover bytes `[offset, offset + length)` of file `file`, clamped to the
    /// file. Empty when `length <= 0`, the range lies outside the file or the index is invalid.
    public func pieces(file: Int, offset: Int64, length: Int64) -> Range<Int> {
        guard files.indices.contains(file), length > 0, offset >= 0 else { return 0..<0 }
        let entry = files[file]
        let start = offset
        let end = min(entry.length, offset.addingReportingOverflow(length).overflow
                      ? Int64.max : offset + length)
        guard start < end else { return 0..<0 }
        return pieces(torrentOffset: entry.offset + start, length: end - start)
    }

    /// The pieces that cover bytes `[torrentOffset, torrentOffset + length)` of the byte stream,
    /// clamped to the torrent.
    public func pieces(torrentOffset: Int64, length: Int64) -> Range<Int> {
        let start = max(0, torrentOffset)
        let end = min(totalLength, torrentOffset.addingReportingOverflow(length).overflow
                      ? Int64.max : torrentOffset + length)
        guard start < end else { return 0..<0 }
        let first = Int(start / Int64(pieceLength))
        let last = Int((end - 1) / Int64(pieceLength))
        return first..<(last + 1)
    }

    /// The file ranges that make up `piece`, in order. Zero-length files are skipped; padding
    /// files are included (check `files[slice.fileIndex].isPadding`).
    public func slices(piece: Int) -> [FileSlice] {
        let size = pieceSize(piece)
        guard size > 0 else { return [] }
        return slices(torrentOffset: pieceOffset(piece), length: Int64(size))
    }

    /// The file ranges that make up bytes `[torrentOffset, torrentOffset + length)` of the byte
    /// stream, clamped to the torrent. Zero-length files are skipped; padding files included.
    public func slices(torrentOffset: Int64, length: Int64) -> [FileSlice] {
        let start = max(0, torrentOffset)
        let end = min(totalLength, torrentOffset.addingReportingOverflow(length).overflow
                      ? Int64.max : torrentOffset + length)
        guard start < end, var index = fileIndex(containing: start) else { return [] }
        var result: [FileSlice] = []
        var position = start
        while position < end, index < files.count {
            let file = files[index]
            if file.length > 0 {
                let sliceEnd = min(end, file.endOffset)
                result.append(FileSlice(fileIndex: index, fileOffset: position - file.offset,
                                        torrentOffset: position, length: Int(sliceEnd - position)))
                position = sliceEnd
            }
            index += 1
        }
        return result
    }

    /// The index of the non-empty file that holds byte `torrentOffset`; nil outside the torrent.
    public func fileIndex(containing torrentOffset: Int64) -> Int? {
        guard torrentOffset >= 0, torrentOffset < totalLength else { return nil }
        // Binary search for the last file whose offset <= torrentOffset and which is non-empty.
        var low = 0
        var high = files.count
        while low < high {
            let mid = (low + high) / 2
            if files[mid].offset <= torrentOffset { low = mid + 1 } else { high = mid }
        }
        var index = low - 1
        // Empty files share the offset of the next file; step back to the one holding the byte.
        while index >= 0, files[index].length == 0 || files[index].endOffset <= torrentOffset {
            index -= 1
        }
        return index >= 0 ? index : nil
    }
}
