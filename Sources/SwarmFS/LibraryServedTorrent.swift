import SwarmContent
import SwarmMetainfo

/// One running torrent of a library, for servers other than the mount (HTTP): its folder name,
/// its content behind the library's gate (calls after the torrent left the library fail as if
/// the source were shut down), and its folder's status document.
public struct LibraryServedTorrent: Sendable {
    public let folder: String
    public let infoHash: String
    public let content: any TorrentContentSource
    /// The folder's `status --json` document (as its `user.swarmfs.status` attribute).
    public let statusJSON: @Sendable () -> String
}

/// A library torrent's source seen through its `SourceGate`: once the torrent is removed, a
/// reader opened afterwards gets `ReaderID.closedGate` and every read fails with `.shutdown`.
final class GatedContentSource: TorrentContentSource {
    private let gate: SourceGate
    let metainfo: Metainfo

    init(_ gate: SourceGate) {
        self.gate = gate
        metainfo = gate.source.metainfo
    }

    func openReader(fileIndex: Int) -> ReaderID {
        gate.openReader(fileIndex: fileIndex) ?? .closedGate
    }

    func closeReader(_ reader: ReaderID) {
        if reader != .closedGate { gate.closeReader(reader) }
    }

    func read(_ reader: ReaderID, fileIndex: Int, offset: Int64, length: Int,
              completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void) -> ReadTicket {
        guard reader != .closedGate else {
            completion(.failure(.shutdown))
            return .completed
        }
        return gate.read(reader, fileIndex: fileIndex, offset: offset, length: length, completion: completion)
    }

    func statusSnapshot() -> SessionStatus {
        gate.status() ?? SessionStatus(
            infoHash: metainfo.infoHash.hex, name: metainfo.name, totalLength: Int64(metainfo.layout.totalLength),
            verifiedBytes: 0, verifiedPieces: 0, pieceCount: metainfo.layout.pieceCount, downloadedBytes: 0,
            uploadedBytes: 0, downloadRate: 0, uploadRate: 0, peers: 0, cacheDiskBytes: 0, pendingReads: 0,
            piecesWaitingForReaders: 0, files: [])
    }
}

extension ReaderID {
    /// The reader handed out by a closed gate: never a source's own.
    static let closedGate = ReaderID(rawValue: .max)
}
