import SwarmMetainfo

/// .torrent parsing: a parsed torrent has a consistent `FileLayout` (files end to end, one 20-byte
/// hash per piece, a piece's slices add up to its size and stay inside their files), sanitised
/// paths, web seed URLs (BEP 19) whose ranges cover each piece exactly, and its info dictionary
/// parses again to the same info-hash.
enum MetainfoFuzzCheck {
    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        guard let metainfo = try? Metainfo(bytes: input) else { return }
        try checkLayout(metainfo)
        for file in metainfo.userFiles {
            try require(!file.path.isEmpty, .metainfo, "file \(file.index) has an empty path")
            for component in file.path {
                try require(!component.isEmpty && component != "." && component != ".."
                            && !component.contains("/") && !component.contains("\0"), .metainfo,
                            "unsafe path component \(component.debugDescription)")
            }
        }
        try checkWebSeeds(metainfo)
        guard let again = try? Metainfo(infoDictionary: metainfo.rawInfo) else {
            throw FuzzInvariantViolation(target: .metainfo, detail: "its own info dictionary does not parse")
        }
        try require(again.infoHash == metainfo.infoHash && again.totalLength == metainfo.totalLength,
                    .metainfo, "re-parsing the info dictionary changed the torrent")
    }

    private static func checkWebSeeds(_ metainfo: Metainfo) throws(FuzzInvariantViolation) {
        let layout = metainfo.layout
        for url in metainfo.webSeeds.prefix(4) {
            guard let location = WebSeedLocation(url: url) else { continue }
            for piece in Set([0, layout.pieceCount - 1]) where piece >= 0 && piece < layout.pieceCount {
                let parts = location.parts(torrentOffset: layout.pieceOffset(piece), length: Int64(layout.pieceSize(piece)),
                                           layout: layout, isSingleFile: metainfo.isSingleFile)
                try require(parts.reduce(0) { $0 + $1.length } == layout.pieceSize(piece), .metainfo,
                            "web seed parts of piece \(piece) do not add up to its size")
                for case let .fetch(partURL, fileOffset, length) in parts {
                    try require(partURL.hasPrefix(location.url) && fileOffset >= 0 && length > 0
                                && partURL.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }), .metainfo,
                                "web seed part \(partURL.debugDescription) at \(fileOffset)+\(length)")
                }
            }
        }
    }

    private static func checkLayout(_ metainfo: Metainfo) throws(FuzzInvariantViolation) {
        let layout = metainfo.layout
        try require(layout.pieceLength >= 1, .metainfo, "piece length \(layout.pieceLength)")
        var offset: Int64 = 0
        for (index, file) in layout.files.enumerated() {
            try require(file.index == index && file.offset == offset && file.length >= 0, .metainfo,
                        "file \(index) at \(file.offset) (+\(file.length)), expected offset \(offset)")
            offset += file.length
        }
        try require(offset == layout.totalLength, .metainfo, "files add up to \(offset), not \(layout.totalLength)")
        let pieceCount = layout.pieceCount
        try require(metainfo.pieceHashes.count == 20 * pieceCount, .metainfo,
                    "\(metainfo.pieceHashes.count) hash bytes for \(pieceCount) pieces")
        // First, last and a middle piece: cheap, and where the off-by-one errors live.
        for piece in Set([0, pieceCount / 2, pieceCount - 1]) where piece >= 0 && piece < pieceCount {
            let size = layout.pieceSize(piece)
            try require(size > 0 && size <= layout.pieceLength, .metainfo, "piece \(piece) has size \(size)")
            var covered = 0
            for slice in layout.slices(piece: piece) {
                let file = layout.files[slice.fileIndex]
                try require(slice.length > 0 && slice.fileOffset >= 0
                            && slice.fileOffset + Int64(slice.length) <= file.length, .metainfo,
                            "piece \(piece) slice \(slice) leaves file \(slice.fileIndex) (\(file.length) bytes)")
                covered += slice.length
            }
            try require(covered == size, .metainfo, "piece \(piece) slices cover \(covered) of \(size) bytes")
            try require(layout.pieces(torrentOffset: layout.pieceOffset(piece), length: Int64(size)) == piece..<(piece + 1),
                        .metainfo, "piece \(piece) does not map back to itself")
        }
    }
}
