@testable import SwarmMetainfo
import Testing

private func layout(_ pieceLength: Int, _ lengths: [Int64], padding: Set<Int> = []) -> FileLayout {
    FileLayout(pieceLength: pieceLength, files: lengths.enumerated().map { index, length in
        (path: ["t", "f\(index)"], length: length, isPadding: padding.contains(index))
    })
}

/// Checks that `slices(piece:)` tiles every piece exactly, in order, with no empty slices.
private func expectSlicesTile(_ layout: FileLayout) {
    var covered: Int64 = 0
    for piece in 0..<layout.pieceCount {
        let slices = layout.slices(piece: piece)
        var position = layout.pieceOffset(piece)
        for slice in slices {
            #expect(slice.torrentOffset == position)
            #expect(slice.length > 0)
            let file = layout.files[slice.fileIndex]
            #expect(slice.fileOffset == slice.torrentOffset - file.offset)
            #expect(slice.fileOffset + Int64(slice.length) <= file.length)
            position += Int64(slice.length)
        }
        #expect(position - layout.pieceOffset(piece) == Int64(layout.pieceSize(piece)))
        covered += Int64(layout.pieceSize(piece))
    }
    #expect(covered == layout.totalLength)
}

@Suite("FileLayout geometry")
struct FileLayoutTests {
    @Test("piece count, offsets and a one-byte last piece")
    func lastPieceOfOneByte() {
        let geometry = layout(16, [33])
        #expect(geometry.pieceCount == 3)
        #expect(geometry.pieceSize(0) == 16)
        #expect(geometry.pieceSize(2) == 1)
        #expect(geometry.pieceSize(3) == 0)
        #expect(geometry.pieceSize(-1) == 0)
        #expect(geometry.pieceOffset(2) == 32)
        #expect(geometry.slices(piece: 2) == [FileSlice(fileIndex: 0, fileOffset: 32, torrentOffset: 32, length: 1)])
        #expect(geometry.pieces(file: 0, offset: 32, length: 1) == 2..<3)
        #expect(geometry.pieces(file: 0, offset: 31, length: 2) == 1..<3)
        expectSlicesTile(geometry)
    }

    @Test("exact multiple of the piece length")
    func exactMultiple() {
        let geometry = layout(16, [32])
        #expect(geometry.pieceCount == 2)
        #expect(geometry.pieceSize(1) == 16)
        #expect(geometry.pieces(file: 0, offset: 16, length: 16) == 1..<2)
        #expect(geometry.pieces(file: 0, offset: 15, length: 1) == 0..<1)
        #expect(geometry.pieces(file: 0, offset: 16, length: 1) == 1..<2)
        expectSlicesTile(geometry)
    }

    @Test("a piece spanning many files, empty files skipped")
    func pieceSpanningManyFiles() {
        let geometry = layout(16, [3, 0, 4, 0, 0, 5, 2, 0, 10])
        #expect(geometry.totalLength == 24)
        #expect(geometry.pieceCount == 2)
        let first = geometry.slices(piece: 0)
        #expect(first.map(\.fileIndex) == [0, 2, 5, 6, 8])
        #expect(first.map(\.length) == [3, 4, 5, 2, 2])
        #expect(first.last?.fileOffset == 0)
        let second = geometry.slices(piece: 1)
        #expect(second == [FileSlice(fileIndex: 8, fileOffset: 2, torrentOffset: 16, length: 8)])
        expectSlicesTile(geometry)
    }

    @Test("empty files cover no pieces, even at the very start and end")
    func emptyFiles() {
        let geometry = layout(8, [0, 8, 0, 8, 0])
        #expect(geometry.pieces(file: 0, offset: 0, length: 1) == 0..<0)
        #expect(geometry.pieces(file: 2, offset: 0, length: 100) == 0..<0)
        #expect(geometry.pieces(file: 4, offset: 0, length: 100) == 0..<0)
        #expect(geometry.files[2].offset == 8)
        #expect(geometry.files[4].offset == 16)
        #expect(geometry.fileIndex(containing: 8) == 3)
        #expect(geometry.fileIndex(containing: 0) == 1)
        #expect(geometry.fileIndex(containing: 16) == nil)
        expectSlicesTile(geometry)
    }

    @Test("ranges are clamped to the file; invalid ones are empty")
    func clamping() {
        let geometry = layout(10, [25, 25])
        #expect(geometry.pieces(file: 1, offset: 0, length: 1_000) == 2..<5)
        #expect(geometry.pieces(file: 1, offset: 24, length: .max) == 4..<5)
        #expect(geometry.pieces(file: 1, offset: 25, length: 1) == 0..<0)
        #expect(geometry.pieces(file: 0, offset: 0, length: 0) == 0..<0)
        #expect(geometry.pieces(file: 0, offset: 0, length: -5) == 0..<0)
        #expect(geometry.pieces(file: 0, offset: -1, length: 5) == 0..<0)
        #expect(geometry.pieces(file: 2, offset: 0, length: 5) == 0..<0)
        #expect(geometry.pieces(file: -1, offset: 0, length: 5) == 0..<0)
        #expect(geometry.slices(torrentOffset: 45, length: 100).map(\.length) == [5])
        #expect(geometry.slices(torrentOffset: 50, length: 1).isEmpty)
        #expect(geometry.slices(piece: 5).isEmpty)
        #expect(geometry.slices(torrentOffset: .max - 1, length: .max).isEmpty)
    }

    @Test("the two directions agree: every byte's piece covers that byte's slice")
    func directionsAgree() {
        let geometry = layout(7, [5, 0, 9, 1, 0, 13, 2])
        for file in geometry.files where file.length > 0 {
            for offset in 0..<file.length {
                let pieces = geometry.pieces(file: file.index, offset: offset, length: 1)
                #expect(pieces.count == 1)
                let piece = pieces.lowerBound
                let hit = geometry.slices(piece: piece).contains { slice in
                    slice.fileIndex == file.index && slice.fileOffset <= offset
                        && offset < slice.fileOffset + Int64(slice.length)
                }
                #expect(hit)
            }
        }
        expectSlicesTile(geometry)
    }

    @Test("padding files are part of the geometry and flagged in slices")
    func paddingFiles() {
        let geometry = layout(16, [10, 6, 17, 15, 1], padding: [1, 3])
        #expect(geometry.totalLength == 49)
        #expect(geometry.pieceCount == 4)
        #expect(geometry.files[2].offset == 16)
        #expect(geometry.slices(piece: 0).map(\.fileIndex) == [0, 1])
        #expect(geometry.files[geometry.slices(piece: 0)[1].fileIndex].isPadding)
        #expect(geometry.slices(piece: 2).map(\.fileIndex) == [2, 3])
        #expect(geometry.pieces(file: 4, offset: 0, length: 1) == 3..<4)
        expectSlicesTile(geometry)
    }

    @Test("an empty torrent has no pieces")
    func emptyTorrent() {
        let geometry = layout(16, [0, 0])
        #expect(geometry.pieceCount == 0)
        #expect(geometry.slices(piece: 0).isEmpty)
        #expect(FileLayout(pieceLength: 0, files: []).pieceLength == 1)
    }
}
