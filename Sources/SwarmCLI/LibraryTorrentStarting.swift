import Foundation
import Logging
import SwarmContent
import SwarmLibrary
import SwarmMetainfo
import SwarmSession

/// How `mount DIR` and `serve DIR` start each torrent of a library on their engine: a .torrent
/// file's at once; a magnet link's once its metadata is in its cache folder or came from the swarm
/// (the link's peers, and those that sent the metadata, dialled first); with `--download none`,
/// the complete cache folder served as is.
enum LibraryTorrentStarting {
    /// `configuration(directory)` is a torrent's session configuration for its cache folder.
    static func starter(engine: SwarmEngine, serveCompleteCache: Bool, logger: Logger,
                        configuration: @escaping @Sendable (String) -> SessionConfiguration) -> LibraryTorrentStarter {
        return { origin, directory async throws(LibraryError) -> LibrarySource in
            var torrentConfiguration = configuration(directory)
            let metainfo: Metainfo
            switch origin {
            case let .metainfo(known):
                metainfo = known
            case let .magnet(magnet):
                let name = magnet.displayName ?? magnet.infoHash.hex
                let linkPeers = magnet.peerAddresses.map(\.description)
                if let cached = MagnetResolver.cached(magnet, directory: directory) {
                    metainfo = cached
                } else if serveCompleteCache {
                    throw .startFailed(infoHash: magnet.infoHash.hex, name: name,
                                       detail: "--download none needs the metadata in \(directory)")
                } else {
                    do throws(SessionError) {
                        let fetched = try await engine.fetchMetadata(magnet, peers: torrentConfiguration.peers + linkPeers,
                                                                     useTrackers: torrentConfiguration.useTrackers, logger: logger)
                        metainfo = fetched.metainfo
                        torrentConfiguration.peers = fetched.peers.map(\.description) + torrentConfiguration.peers
                    } catch {
                        throw .startFailed(infoHash: magnet.infoHash.hex, name: name, detail: error.description)
                    }
                }
                torrentConfiguration.peers += linkPeers
            }
            if serveCompleteCache {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw .startFailed(infoHash: metainfo.infoHash.hex, name: metainfo.name,
                                       detail: "cache directory \(directory) does not exist")
                }
                let source = DirectoryContentSource(metainfo: metainfo, directory: directory)
                return LibrarySource(content: source, stop: { source.shutdown() })
            }
            do throws(SessionError) {
                let session = try await engine.add(metainfo, configuration: torrentConfiguration, logger: logger)
                let infoHash = metainfo.infoHash
                return LibrarySource(content: session, stop: { await engine.remove(infoHash) })
            } catch {
                throw .startFailed(infoHash: metainfo.infoHash.hex, name: metainfo.name, detail: error.description)
            }
        }
    }
}
