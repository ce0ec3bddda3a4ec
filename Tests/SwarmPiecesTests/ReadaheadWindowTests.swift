import SwarmMetainfo
import SwarmPieces
import Testing

private let mebibyte: Int64 = 1024 * 1024

@Test func aStreamingReaderDoublesItsWindowUpToTheMaximum() {
    var window = ReadaheadWindow()
    #expect(window.length == ReadaheadWindow.initialLength)
    var offset: Int64 = 0
    var lengths: [Int64] = []
    for _ in 0..<9 {
        window.note(offset: offset, length: 128 * 1024)
        offset += 128 * 1024
        lengths.append(window.length / mebibyte)
    }
    #expect(lengths == [2, 4, 8, 16, 32, 64, 64, 64, 64])
    #expect(window.nextOffset == offset)
}

@Test func aSeekResetsTheWindowAndASlightlyReorderedReadDoesNot() {
    var window = ReadaheadWindow()
    window.note(offset: 0, length: 65536)
    window.note(offset: 65536, length: 65536)
    #expect(window.length == 4 * mebibyte)
    // The kernel reorders large reads a little: a read just behind the last one still counts.
    window.note(offset: 0, length: 4096)
    #expect(window.length == 8 * mebibyte)
    #expect(window.nextOffset == 131_072, "a read behind does not move the expected next offset back")
    window.note(offset: 500 * mebibyte, length: 4096)
    #expect(window.length == ReadaheadWindow.initialLength)
    #expect(window.nextOffset == 500 * mebibyte + 4096)
}

@Test func hostileOffsetsDoNotTrap() {
    var window = ReadaheadWindow()
    window.note(offset: .max - 10, length: 100)
    #expect(window.nextOffset == .max)
    window.note(offset: .max, length: Int.max)
    window.note(offset: .min, length: 1)
    #expect(window.length == ReadaheadWindow.initialLength)
}

@Test func thePiecesAheadStopAtTheCapAndTheEndOfTheFile() {
    // Two files of 10 pieces of 64 KiB: the window never crosses into the second one.
    let pieceLength = 64 * 1024
    let layout = FileLayout(pieceLength: pieceLength, files: [
        (path: ["a"], length: Int64(10 * pieceLength), isPadding: false),
        (path: ["b"], length: Int64(10 * pieceLength), isPadding: false),
    ])
    let window = ReadaheadWindow()
    #expect(window.pieces(after: 0, file: 0, in: layout, cap: .max) == 0..<10)
    #expect(window.pieces(after: Int64(2 * pieceLength), file: 0, in: layout, cap: Int64(pieceLength)) == 2..<3)
    #expect(window.pieces(after: Int64(10 * pieceLength), file: 0, in: layout, cap: .max) == nil)
    #expect(window.pieces(after: 0, file: 1, in: layout, cap: .max) == 10..<20)
    #expect(window.pieces(after: 0, file: 7, in: layout, cap: .max) == nil)
}
