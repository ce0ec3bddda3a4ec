import SwarmMetainfo
import SwarmContent

/// What a library folder shows.
public enum LibraryFolderContent: Sendable {
    /// A torrent: its files, served by `source`.
    case torrent(Metainfo, any TorrentContentSource)
    /// An empty folder and why it is empty: `state` is a word for `status` ("magnet", "failed"),
    /// `reason` a sentence.
    case placeholder(name: String, state: String, reason: String)
}

/// A folder to add at the library root.
public struct LibraryFolder: Sendable {
    public let name: String
    public let infoHash: String
    public let content: LibraryFolderContent

    public init(name: String, infoHash: String, content: LibraryFolderContent) {
        self.name = name
        self.infoHash = infoHash
        self.content = content
    }
}

/// A library file that shows no folder, and why (malformed, unreadable, being written).
public struct LibraryFileProblem: Sendable, Equatable {
    public let file: String
    public let reason: String

    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }
}

/// A torrent of the library that has no folder yet (its session is starting).
public struct LibraryPendingTorrent: Sendable, Equatable {
    public let folder: String
    public let infoHash: String
    public let state: String

    public init(folder: String, infoHash: String, state: String) {
        self.folder = folder
        self.infoHash = infoHash
        self.state = state
    }
}
