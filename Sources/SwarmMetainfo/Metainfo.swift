import SwarmBencode

/// A parsed v1 .torrent file (BEP 3, with BEP 12 tiers, BEP 19 web seeds, BEP 27 private flag
/// and BEP 47 padding files).
public struct Metainfo: Sendable {
    /// The torrent's name, sanitised (never empty, `.`, `..`, never containing `/`).
    public let name: String
    /// SHA-1 of the exact bytes of the info dictionary.
    public let infoHash: InfoHash
    /// Piece and file geometry, with sanitised, unique paths.
    public let layout: FileLayout
    /// The concatenated 20-byte SHA-1 hashes of all pieces.
    public let pieceHashes: [UInt8]
    /// Tracker tiers (BEP 12); a lone `announce` gives `[[announce]]`; empty when trackerless.
    public let trackers: [[String]]
    /// BEP 19 web seed URLs.
    public let webSeeds: [String]
    /// BEP 27: peers only from the trackers.
    public let isPrivate: Bool
    /// True when the info dictionary has `length` rather than `files`.
    public let isSingleFile: Bool
    /// Free-text comment.
    public let comment: String?
    /// The program that made the torrent.
    public let createdBy: String?
    /// Creation time, seconds since 1970.
    public let creationDate: Int64?
    /// The exact bytes of the info dictionary (what BEP 9 serves and the info-hash covers).
    public let rawInfo: [UInt8]

    /// Largest .torrent file accepted (a 1 TiB torrent with 256 KiB pieces needs 80 MiB of hashes,
    /// but nothing real comes near; this bounds memory on hostile input).
    public static let maxTorrentFileSize = 64 << 20
    /// Largest piece length accepted: 256 MiB.
    public static let maxPieceLength: Int64 = 256 << 20

    /// The 20-byte SHA-1 of `piece` (empty for an index outside the torrent).
    public func pieceHash(_ piece: Int) -> ArraySlice<UInt8> {
        guard piece >= 0, piece < layout.pieceCount else { return [] }
        return pieceHashes[(piece * 20)..<(piece * 20 + 20)]
    }

    /// Files a user sees: everything but padding files (computed once; the FS asks often).
    public let userFiles: [TorrentFile]

    /// Total payload size, padding included (same as `layout.totalLength`).
    public var totalLength: Int64 { layout.totalLength }

    /// Parses a .torrent from its bytes.
    public init(bytes: [UInt8]) throws(MetainfoError) {
        self = try MetainfoParser.parse(bytes)
    }

    /// Parses the info dictionary alone (as fetched over BEP 9 for a magnet link), with the
    /// trackers and web seeds (`ws`) the magnet named.
    public init(infoDictionary: [UInt8], trackers: [[String]] = [], webSeeds: [String] = []) throws(MetainfoError) {
        self = try MetainfoParser.parse(infoDictionary: infoDictionary, trackers: trackers, webSeeds: webSeeds)
    }

    /// Reads and parses the .torrent at `path`; errors name the file.
    public init(contentsOf path: String) throws(MetainfoError) {
        let bytes: [UInt8]
        do throws(MetainfoError) {
            bytes = try TorrentFileReader.load(path: path, limit: Self.maxTorrentFileSize)
            self = try MetainfoParser.parse(bytes)
        } catch {
            throw .inFile(path: path, underlying: error)
        }
    }

    /// Memberwise initialiser used by the parser.
    init(name: String, infoHash: InfoHash, layout: FileLayout, pieceHashes: [UInt8],
         trackers: [[String]], webSeeds: [String], isPrivate: Bool, isSingleFile: Bool,
         comment: String?, createdBy: String?, creationDate: Int64?, rawInfo: [UInt8]) {
        self.name = name
        self.infoHash = infoHash
        self.layout = layout
        self.pieceHashes = pieceHashes
        self.trackers = trackers
        self.webSeeds = webSeeds
        self.isPrivate = isPrivate
        self.isSingleFile = isSingleFile
        self.comment = comment
        self.createdBy = createdBy
        self.creationDate = creationDate
        self.rawInfo = rawInfo
        self.userFiles = layout.files.filter { !$0.isPadding }
    }
}
