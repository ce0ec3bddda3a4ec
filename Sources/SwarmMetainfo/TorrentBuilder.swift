import SwarmBencode
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes v1 .torrent files from a file or a folder (`swarmfs create`), like mktorrent.
public struct TorrentBuilder: Sendable {
    /// What to put in the torrent besides the payload.
    public struct Options: Sendable {
        /// Tracker URLs; each becomes its own tier (as with mktorrent and transmission-create).
        public var announce: [String] = []
        /// Bytes per piece; nil picks one with `automaticPieceLength(totalLength:)`.
        public var pieceLength: Int?
        /// BEP 27 private flag.
        public var isPrivate = false
        /// Free-text comment.
        public var comment: String?
        /// BEP 19 web seed URLs.
        public var webSeeds: [String] = []
        /// `created by`.
        public var createdBy: String?
        /// `creation date` (seconds since 1970); nil means now. Set it for reproducible output.
        public var creationDate: Int64?
        /// Hashing threads; nil means one per core.
        public var threads: Int?

        /// Default options.
        public init() {}
    }

    /// Smallest and largest piece lengths `create` accepts.
    public static let pieceLengthRange = (16 << 10)...(256 << 20)

    /// Chooses a piece length like libtorrent: the smallest power of two from 16 KiB to 4 MiB that
    /// keeps the piece list near 40 KiB (about 2,000 pieces).
    public static func automaticPieceLength(totalLength: Int64) -> Int {
        let target = totalLength / (40 * 1024 / 20)
        var size = 16 << 10
        while size < (4 << 20), Int64(size) < target { size *= 2 }
        return size
    }

    /// True for a power of two within `pieceLengthRange`.
    public static func isValidPieceLength(_ length: Int) -> Bool {
        pieceLengthRange.contains(length) && length.nonzeroBitCount == 1
    }

    /// The source path given by the user.
    public let sourcePath: String
    /// The options in effect.
    public let options: Options
    /// Geometry of the torrent being made (paths are the sanitised ones a reader would see).
    public let layout: FileLayout
    private let scan: SourceScanner.Result

    /// Scans `path` (a file or a folder) in a deterministic order.
    public init(path: String, options: Options = Options()) throws(TorrentBuildError) {
        if let length = options.pieceLength, !Self.isValidPieceLength(length) {
            throw .invalidPieceLength(length)
        }
        let scan = try SourceScanner.scan(path)
        let total = scan.files.reduce(Int64(0)) { $0 + $1.length }
        guard total > 0 else { throw .noData(path: path) }
        let pieceLength = options.pieceLength ?? Self.automaticPieceLength(totalLength: total)
        let name = PathSanitizer.torrentName(scan.name)
        self.layout = FileLayout(pieceLength: pieceLength, files: scan.files.map { file in
            (path: [name] + PathSanitizer.path(file.components), length: file.length, isPadding: false)
        })
        self.sourcePath = path
        self.options = options
        self.scan = scan
    }

    /// Hashes the payload and returns the bencoded torrent. `progress(hashedBytes, totalBytes)` is
    /// called from hashing threads.
    public func build(progress: (@Sendable (Int64, Int64) -> Void)? = nil) throws(TorrentBuildError) -> [UInt8] {
        let threads = options.threads ?? Self.coreCount
        let hasher = PieceHasher(files: scan.files, layout: layout, workers: max(1, threads))
        let pieces = try hasher.hashAll(progress: progress)
        return BencodeEncoder.encode(torrent(pieces: pieces))
    }

    private func torrent(pieces: [UInt8]) -> BencodeValue {
        var info: [BencodeDictionaryEntry] = [
            BencodeDictionaryEntry(key: Array("name".utf8), value: .bytes(scan.name)),
            BencodeDictionaryEntry("piece length", .integer(Int64(layout.pieceLength))),
            BencodeDictionaryEntry("pieces", .bytes(pieces)),
        ]
        if scan.isDirectory {
            info.append(BencodeDictionaryEntry("files", .list(scan.files.map { file in
                .dictionary([
                    BencodeDictionaryEntry("length", .integer(file.length)),
                    BencodeDictionaryEntry("path", .list(file.components.map(BencodeValue.bytes))),
                ])
            })))
        } else {
            info.append(BencodeDictionaryEntry("length", .integer(scan.files.first?.length ?? 0)))
        }
        if options.isPrivate { info.append(BencodeDictionaryEntry("private", 1)) }

        var root: [BencodeDictionaryEntry] = [BencodeDictionaryEntry("info", .dictionary(info))]
        if let first = options.announce.first {
            root.append(BencodeDictionaryEntry("announce", .string(first)))
            if options.announce.count > 1 {
                root.append(BencodeDictionaryEntry("announce-list", .list(options.announce.map { [.string($0)] })))
            }
        }
        if let comment = options.comment { root.append(BencodeDictionaryEntry("comment", .string(comment))) }
        if let createdBy = options.createdBy { root.append(BencodeDictionaryEntry("created by", .string(createdBy))) }
        let date = options.creationDate ?? Int64(time(nil))
        root.append(BencodeDictionaryEntry("creation date", .integer(date)))
        if !options.webSeeds.isEmpty {
            root.append(BencodeDictionaryEntry("url-list", options.webSeeds.count == 1
                ? .string(options.webSeeds[0]) : .list(options.webSeeds.map(BencodeValue.string))))
        }
        return .dictionary(root)
    }

    /// Online processors.
    static var coreCount: Int {
        let count = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return count > 0 ? count : 1
    }
}
