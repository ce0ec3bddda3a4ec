import SwarmContent
import SwarmFS
import SwarmMetainfo

/// One torrent the server offers: its files by path (as `FSFileEntry.entries(of:)` gives them:
/// a multi-file torrent's paths start with its name), where to read them, and its status.
public struct HTTPTorrent: Sendable {
    /// 40 lowercase hex digits.
    public let infoHash: String
    public let name: String
    /// Seconds since 1970 for `Last-Modified`: the torrent's creation date, else when the
    /// server started (the bytes behind an info-hash never change either way).
    public let modified: Int64
    public let content: any TorrentContentSource
    /// The torrent's `status --json` document.
    public let statusJSON: @Sendable () -> String

    public init(content: any TorrentContentSource, fallbackTime: Int64, statusJSON: @escaping @Sendable () -> String) {
        let metainfo = content.metainfo
        infoHash = metainfo.infoHash.hex
        name = metainfo.name
        modified = metainfo.creationDate.flatMap { $0 > 0 ? $0 : nil } ?? fallbackTime
        self.content = content
        self.statusJSON = statusJSON
    }

    /// The torrent's files, built when asked (a status poll of a large library needs none).
    public var files: [FSFileEntry] { FSFileEntry.entries(of: content.metainfo) }

    /// The file at `path` (components as in `files`), if the torrent has one there.
    public func file(at path: [String]) -> FSFileEntry? {
        files.first { $0.path == path }
    }
}

/// The torrents an `HTTPServer` offers; asked on every request, so a library's changes show at once.
public protocol HTTPCatalog: Sendable {
    func torrents() -> [HTTPTorrent]
    /// The torrent with `infoHash` (lowercase hex).
    func torrent(_ infoHash: String) -> HTTPTorrent?
}

extension HTTPCatalog {
    public func torrent(_ infoHash: String) -> HTTPTorrent? {
        torrents().first { $0.infoHash == infoHash }
    }
}

/// The catalog of a single torrent (`mount FILE.torrent` or `serve FILE.torrent`).
public struct SingleTorrentCatalog: HTTPCatalog {
    private let torrent: HTTPTorrent

    /// `extras` are added to the status document (as the mount's `statusExtras`).
    public init(content: any TorrentContentSource, startTime: Int64, extras: [(String, String)] = []) {
        torrent = HTTPTorrent(content: content, fallbackTime: startTime) {
            StatusJSON.encode(content.statusSnapshot(), extra: extras)
        }
    }

    public func torrents() -> [HTTPTorrent] { [torrent] }
}

/// The catalog of a library: its running torrents, as its filesystem lists them now.
public struct LibraryCatalog: HTTPCatalog {
    private let fileSystem: LibraryFileSystem
    private let startTime: Int64

    public init(fileSystem: LibraryFileSystem, startTime: Int64) {
        self.fileSystem = fileSystem
        self.startTime = startTime
    }

    public func torrents() -> [HTTPTorrent] {
        fileSystem.servedTorrents().map { served in
            HTTPTorrent(content: served.content, fallbackTime: startTime, statusJSON: served.statusJSON)
        }
    }

    /// Builds only the torrent asked for (a file list per torrent is not free).
    public func torrent(_ infoHash: String) -> HTTPTorrent? {
        fileSystem.servedTorrents().first { $0.infoHash == infoHash }.map { served in
            HTTPTorrent(content: served.content, fallbackTime: startTime, statusJSON: served.statusJSON)
        }
    }
}
