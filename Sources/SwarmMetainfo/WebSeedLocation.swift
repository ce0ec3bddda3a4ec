/// Where a web seed (BEP 19, "GetRight style": a plain HTTP server with the torrent's files)
/// keeps the torrent, and which HTTP byte ranges hold a span of the torrent's byte stream.
///
/// BEP 19: for a single-file torrent the URL is the file itself, unless it ends in `/`, when the
/// torrent's name is appended; for a multi-file torrent the URL is the folder that holds the
/// torrent's folder (`/` added if missing), and each file is at URL + name + `/` + its path.
/// Path components are percent-encoded. Padding files (BEP 47) are zeros and are never asked for.
public struct WebSeedLocation: Sendable, Hashable, CustomStringConvertible {
    /// The URL as the torrent or the magnet link gave it.
    public let url: String
    private let isFolder: Bool

    /// The longest URL accepted (a torrent is hostile input).
    public static let maxURLLength = 2048

    /// Nil unless `url` is an absolute http:// or https:// URL of printable ASCII with a host.
    public init?(url: String) {
        guard url.utf8.count <= Self.maxURLLength, url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        let lower = url.lowercased()
        guard let scheme = ["http://", "https://"].first(where: { lower.hasPrefix($0) }) else { return nil }
        let rest = url.dropFirst(scheme.count)
        guard let first = rest.first, first != "/", first != "?", first != "#" else { return nil }
        self.url = url
        isFolder = url.hasSuffix("/")
    }

    public var description: String { url }

    /// The URL of `file` (its path is the torrent's, name first; `isSingleFile` as the metainfo
    /// says).
    public func url(of file: TorrentFile, isSingleFile: Bool) -> String {
        if isSingleFile {
            return isFolder ? url + Self.encoded(file.path.last ?? "") : url
        }
        return (isFolder ? url : url + "/") + file.path.map(Self.encoded).joined(separator: "/")
    }

    /// One part of a span: a byte range of a file to ask the web seed for, or padding (zeros).
    public enum Part: Sendable, Equatable {
        case fetch(url: String, fileOffset: Int64, length: Int)
        case zeros(length: Int)

        public var length: Int {
            switch self {
            case let .fetch(_, _, length), let .zeros(length): length
            }
        }
    }

    /// The parts that make up bytes `[torrentOffset, torrentOffset + length)` of the torrent, in
    /// order (clamped to the torrent, as `FileLayout.slices` is).
    public func parts(torrentOffset: Int64, length: Int64, layout: FileLayout, isSingleFile: Bool) -> [Part] {
        layout.slices(torrentOffset: torrentOffset, length: length).map { slice in
            let file = layout.files[slice.fileIndex]
            return file.isPadding ? .zeros(length: slice.length)
                : .fetch(url: url(of: file, isSingleFile: isSingleFile), fileOffset: slice.fileOffset, length: slice.length)
        }
    }

    /// RFC 3986 percent-encoding of one path component (everything but unreserved characters).
    static func encoded(_ component: String) -> String {
        MagnetLink.percentEncoded(component)
    }
}
