import SwarmBencode

/// Validates a decoded .torrent and builds a `Metainfo`.
enum MetainfoParser {
    static func parse(_ bytes: [UInt8]) throws(MetainfoError) -> Metainfo {
        guard bytes.count <= Metainfo.maxTorrentFileSize else {
            throw .tooLarge(size: Int64(bytes.count), limit: Metainfo.maxTorrentFileSize)
        }
        let document: BencodeDocument
        do throws(BencodeError) {
            document = try BencodeDecoder().decodeDocument(bytes)
        } catch {
            throw .invalidBencode(error)
        }
        let root = document.value
        guard root.dictionary != nil else { throw .notADictionary }
        guard let infoValue = root["info"] else { throw .missingField("info") }
        guard infoValue.dictionary != nil, let infoRange = document.infoRange else {
            throw .wrongType(field: "info", expected: "a dictionary")
        }
        let rawInfo = Array(bytes[infoRange])
        return try build(info: infoValue, rawInfo: rawInfo, root: root)
    }

    static func parse(infoDictionary: [UInt8], trackers: [[String]], webSeeds: [String] = []) throws(MetainfoError) -> Metainfo {
        let info: BencodeValue
        do throws(BencodeError) {
            info = try BencodeDecoder().decode(infoDictionary)
        } catch {
            throw .invalidBencode(error)
        }
        guard info.dictionary != nil else { throw .wrongType(field: "info", expected: "a dictionary") }
        let root: BencodeValue = .dictionary([
            BencodeDictionaryEntry("announce-list", .list(trackers.map { .list($0.map(BencodeValue.string)) })),
            BencodeDictionaryEntry("url-list", .list(webSeeds.map(BencodeValue.string))),
        ])
        return try build(info: info, rawInfo: infoDictionary, root: root)
    }

    private static func build(info: BencodeValue, rawInfo: [UInt8],
                              root: BencodeValue) throws(MetainfoError) -> Metainfo {
        let rawTorrentName = try rawName(info, field: "name", in: "info")
        guard !rawTorrentName.isEmpty else { throw .emptyName }
        let name = PathSanitizer.torrentName(rawTorrentName)

        guard let pieceLengthValue = info["piece length"] else { throw .missingField("info.piece length") }
        guard let pieceLength = pieceLengthValue.integer else {
            throw .wrongType(field: "info.piece length", expected: "an integer")
        }
        guard pieceLength >= 1, pieceLength <= Metainfo.maxPieceLength else {
            throw .invalidPieceLength(pieceLength)
        }

        guard let piecesValue = info["pieces"] else { throw .missingField("info.pieces") }
        guard let pieces = piecesValue.bytes else { throw .wrongType(field: "info.pieces", expected: "a string") }
        guard pieces.count % 20 == 0 else { throw .piecesNotMultipleOf20(byteCount: pieces.count) }

        let lengthValue = info["length"]
        let filesValue = info["files"]
        let isSingleFile: Bool
        var entries: [(path: [String], length: Int64, isPadding: Bool)]
        switch (lengthValue, filesValue) {
        case (.some, .some):
            throw .lengthAndFiles
        case (.none, .none):
            throw .missingField("info.length")
        case let (.some(value), .none):
            isSingleFile = true
            entries = [([name], try length(value, field: "info.length"), false)]
        case let (.none, .some(value)):
            isSingleFile = false
            entries = try files(value, name: name)
        }

        // Every size below comes from the torrent: check each step before FileLayout, whose
        // arithmetic (file offsets, piece offsets and sizes) trusts them.
        var total: Int64 = 0
        for entry in entries {
            let (sum, overflow) = total.addingReportingOverflow(entry.length)
            guard !overflow else { throw .totalLengthOverflow }
            total = sum
        }
        guard total > 0 else { throw .emptyTorrent }
        let pieceCount = FileLayout.pieceCount(totalLength: total, pieceLength: pieceLength)
        // The last piece ends at pieceCount × pieceLength, past the total length.
        guard !Int64(pieceCount).multipliedReportingOverflow(by: pieceLength).overflow else {
            throw .sizeOverflow("piece length \(pieceLength) × piece count \(pieceCount)")
        }
        guard pieces.count / 20 == pieceCount else {
            throw .pieceCountMismatch(expected: pieceCount, actual: pieces.count / 20)
        }
        let layout = FileLayout(pieceLength: Int(pieceLength), files: entries)

        return Metainfo(
            name: name,
            infoHash: InfoHash.sha1(of: rawInfo),
            layout: layout,
            pieceHashes: pieces,
            trackers: trackers(root),
            webSeeds: webSeeds(root),
            isPrivate: info["private"]?.integer == 1,
            isSingleFile: isSingleFile,
            comment: text(root, "comment"),
            createdBy: text(root, "created by"),
            creationDate: root["creation date"]?.integer,
            rawInfo: rawInfo
        )
    }

    /// `key.utf-8` when it is valid UTF-8, else `key`; raw bytes (decoded lossily later).
    private static func rawName(_ dictionary: BencodeValue, field: String,
                                in parent: String) throws(MetainfoError) -> [UInt8] {
        if let utf8 = dictionary[field + ".utf-8"]?.bytes, String(validating: utf8, as: UTF8.self) != nil {
            return utf8
        }
        guard let value = dictionary[field] else { throw .missingField("\(parent).\(field)") }
        guard let bytes = value.bytes else { throw .wrongType(field: "\(parent).\(field)", expected: "a string") }
        return bytes
    }

    private static func length(_ value: BencodeValue, field: String) throws(MetainfoError) -> Int64 {
        guard let length = value.integer else { throw .wrongType(field: field, expected: "an integer") }
        guard length >= 0 else { throw .negativeLength(field: field, value: length) }
        return length
    }

    private static func files(_ value: BencodeValue,
                              name: String) throws(MetainfoError) -> [(path: [String], length: Int64, isPadding: Bool)] {
        guard let list = value.list else { throw .wrongType(field: "info.files", expected: "a list") }
        guard !list.isEmpty else { throw .noFiles }
        var userPaths: [[String]] = []
        var result: [(path: [String], length: Int64, isPadding: Bool)] = []
        result.reserveCapacity(list.count)
        for (index, file) in list.enumerated() {
            let field = "info.files[\(index)]"
            guard file.dictionary != nil else { throw .wrongType(field: field, expected: "a dictionary") }
            guard let lengthValue = file["length"] else { throw .missingField(field + ".length") }
            let fileLength = try length(lengthValue, field: field + ".length")
            let components = try pathComponents(file, field: field)
            guard !components.isEmpty else { throw .emptyFilePath(fileIndex: index) }
            let isPadding = file["attr"]?.bytes?.contains(UInt8(ascii: "p")) ?? false
            let path = [name] + PathSanitizer.path(components)
            if !isPadding { userPaths.append(path) }
            result.append((path, fileLength, isPadding))
        }
        // Padding files are never shown or stored, so only user files take part in renaming.
        var unique = PathSanitizer.uniquePaths(userPaths).makeIterator()
        for index in result.indices where !result[index].isPadding {
            if let path = unique.next() { result[index].path = path }
        }
        return result
    }

    private static func pathComponents(_ file: BencodeValue, field: String) throws(MetainfoError) -> [[UInt8]] {
        if let utf8 = file["path.utf-8"]?.list {
            let parts = utf8.compactMap(\.bytes)
            if parts.count == utf8.count, !parts.isEmpty,
               parts.allSatisfy({ String(validating: $0, as: UTF8.self) != nil }) {
                return parts
            }
        }
        guard let value = file["path"] else { throw .missingField(field + ".path") }
        guard let list = value.list else { throw .wrongType(field: field + ".path", expected: "a list") }
        var parts: [[UInt8]] = []
        parts.reserveCapacity(list.count)
        for element in list {
            guard let bytes = element.bytes else {
                throw .wrongType(field: field + ".path", expected: "a list of strings")
            }
            parts.append(bytes)
        }
        return parts
    }

    private static func trackers(_ root: BencodeValue) -> [[String]] {
        if let tiers = root["announce-list"]?.list {
            let parsed = tiers.compactMap { tier -> [String]? in
                let urls = (tier.list ?? []).compactMap(\.string).filter { !$0.isEmpty }
                return urls.isEmpty ? nil : urls
            }
            if !parsed.isEmpty { return parsed }
        }
        if let announce = root["announce"]?.string, !announce.isEmpty { return [[announce]] }
        return []
    }

    private static func webSeeds(_ root: BencodeValue) -> [String] {
        guard let value = root["url-list"] else { return [] }
        if let single = value.string { return single.isEmpty ? [] : [single] }
        return (value.list ?? []).compactMap(\.string).filter { !$0.isEmpty }
    }

    private static func text(_ root: BencodeValue, _ key: String) -> String? {
        if let utf8 = root[key + ".utf-8"]?.string { return utf8 }
        guard let bytes = root[key]?.bytes else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
