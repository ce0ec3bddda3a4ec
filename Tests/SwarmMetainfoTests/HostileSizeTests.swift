import SwarmBencode
import SwarmMetainfo
import Testing

/// A torrent with the given info fields; `pieces` defaults to one hash.
private func torrentBytes(name: BencodeValue = "x", pieceLength: Int64 = 16384, length: Int64? = nil,
                          files: [(path: [String], length: Int64)]? = nil, pieceCount: Int = 1) -> [UInt8] {
    var info: [BencodeDictionaryEntry] = [
        BencodeDictionaryEntry("name", name),
        BencodeDictionaryEntry("piece length", .integer(pieceLength)),
        BencodeDictionaryEntry("pieces", .bytes(Array(repeating: 7, count: 20 * pieceCount))),
    ]
    if let length { info.append(BencodeDictionaryEntry("length", .integer(length))) }
    if let files {
        info.append(BencodeDictionaryEntry("files", .list(files.map { file in
            .dictionary([BencodeDictionaryEntry("length", .integer(file.length)),
                         BencodeDictionaryEntry("path", .list(file.path.map(BencodeValue.string)))])
        })))
    }
    return BencodeEncoder.encode(.dictionary([BencodeDictionaryEntry("info", .dictionary(info))]))
}

/// The error code of parsing `bytes`, or nil if it parsed.
private func errorCode(_ bytes: [UInt8]) -> String? {
    do {
        _ = try Metainfo(bytes: bytes)
        return nil
    } catch {
        return error.code
    }
}

@Suite("Hostile sizes and names in the info dictionary")
struct HostileSizeTests {
    @Test("a length near Int64.max is refused, not trapped on", arguments: [
        (Int64.max, Int64(16384), "sizeOverflow"), (Int64.max - 1, Int64(256 << 20), "sizeOverflow"),
        // Piece length × piece count fits, but no .torrent can hold that many hashes.
        (Int64.max, Int64(1), "pieceCountMismatch"),
    ])
    func hugeSingleFile(length: Int64, pieceLength: Int64, code: String) {
        #expect(errorCode(torrentBytes(pieceLength: pieceLength, length: length)) == code)
    }

    @Test("file offsets near Int64.max are refused")
    func hugeFileOffsets() {
        let files: [(path: [String], length: Int64)] = [(["a"], Int64.max - 10), (["b"], 5)]
        #expect(errorCode(torrentBytes(files: files)) == "sizeOverflow")
    }

    @Test("a layout's piece arithmetic never traps, even on sizes the parser refuses")
    func layoutArithmetic() {
        let layout = FileLayout(pieceLength: 16384, files: [(["x"], Int64.max, false)])
        #expect(layout.pieceCount == 1 << 49)
        let overflowing = FileLayout(pieceLength: 16, files: [(["a"], Int64.max, false), (["b"], 9, false)])
        #expect(overflowing.totalLength == Int64.max)
        #expect(overflowing.files[1].offset == Int64.max)
    }

    @Test("a torrent with no data is refused")
    func zeroTotal() {
        #expect(errorCode(torrentBytes(length: 0, pieceCount: 0)) == "emptyTorrent")
        #expect(errorCode(torrentBytes(files: [(["a"], 0), (["b"], 0)], pieceCount: 0)) == "emptyTorrent")
    }

    @Test("an empty name is refused")
    func emptyName() {
        #expect(errorCode(torrentBytes(name: "", length: 10)) == "emptyName")
        #expect(errorCode(torrentBytes(name: "", files: [(["a"], 10)])) == "emptyName")
    }
}
