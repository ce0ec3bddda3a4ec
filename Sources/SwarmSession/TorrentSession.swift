import Logging
import NIOCore
import NIOPosix
import SwarmContent
import SwarmMetainfo
import SwarmStorage
import SwarmTracker
import SwarmWire
import Synchronization

/// One torrent being downloaded, served and uploaded, on a `SwarmEngine`: what the filesystem
/// and `swarmfs download` drive.
///
/// All piece state lives in a `Foreman` on the engine's event loop; this type is the thread-safe
/// front door. Reads of verified pieces are answered on the caller's thread without touching the
/// loop.
public final class TorrentSession: TorrentContentSource {
    public let metainfo: Metainfo
    public let configuration: SessionConfiguration
    /// The TCP port peers can reach us on (0 if not listening): the engine's.
    public var listenPort: UInt16 { engine.listenPort }
    /// The engine this torrent runs on.
    public let engine: SwarmEngine

    /// Whether shutting this torrent down also stops its engine (`start(metainfo:...)` makes an
    /// engine for one torrent).
    private let ownsEngine: Bool
    private let eventLoop: EventLoop
    private let threadPool: NIOThreadPool
    private let store: PieceStore
    private let lock: CacheLock
    private let foreman: NIOLoopBound<Foreman>
    /// Internal, not private, only so that tests can withdraw a piece from readers the way an
    /// eviction does, behind the Foreman's back (see `CancelAfterWithdrawnPieceTests`).
    let verified: VerifiedPieces
    private let statusBoard: StatusBoard
    private let announcer: Announcer?
    private let dhtAnnouncer: DHTAnnouncer?
    private let logger: Logger
    private let nextID = Atomic<UInt64>(1)
    private let isShutDown = Atomic<Bool>(false)

    private init(metainfo: Metainfo, configuration: SessionConfiguration, engine: SwarmEngine, ownsEngine: Bool,
                 store: PieceStore, lock: CacheLock,
                 foreman: NIOLoopBound<Foreman>, verified: VerifiedPieces, statusBoard: StatusBoard,
                 announcer: Announcer?, dhtAnnouncer: DHTAnnouncer?, logger: Logger) {
        self.metainfo = metainfo
        self.configuration = configuration
        self.engine = engine
        self.ownsEngine = ownsEngine
        eventLoop = engine.eventLoop
        threadPool = engine.threadPool
        self.store = store
        self.lock = lock
        self.foreman = foreman
        self.verified = verified
        self.statusBoard = statusBoard
        self.announcer = announcer
        self.dhtAnnouncer = dhtAnnouncer
        self.logger = logger
    }

    /// Starts an engine for this one torrent (as `download`, `seed` and a single-torrent `mount`
    /// do) and the torrent on it; shutting the torrent down stops the engine too.
    public static func start(metainfo: Metainfo, configuration: SessionConfiguration,
                             engineConfiguration: EngineConfiguration,
                             logger: Logger) async throws(SessionError) -> TorrentSession {
        _ = try parsePeers(configuration.peers)
        let engine = try await SwarmEngine.start(configuration: engineConfiguration, logger: logger)
        do {
            return try await start(in: engine, metainfo: metainfo, configuration: configuration, logger: logger,
                                   ownsEngine: true)
        } catch {
            await engine.shutdown()
            throw error
        }
    }

    /// Opens (or adopts) the cache, checks what it holds, contacts trackers and the given peers,
    /// and registers with the engine's router. Returns once the session serves reads.
    /// `SwarmEngine.add` is the public way in.
    static func start(in engine: SwarmEngine, metainfo: Metainfo, configuration: SessionConfiguration,
                      logger baseLogger: Logger, ownsEngine: Bool = false) async throws(SessionError) -> TorrentSession {
        var logger = baseLogger
        logger[metadataKey: "infoHash"] = "\(metainfo.infoHash.hex)"
        let directory = configuration.cacheDirectory
        let peerAddresses = try parsePeers(configuration.peers)

        let lock: CacheLock
        let store: PieceStore
        do {
            lock = try CacheLock.acquire(directory: directory)
        } catch {
            throw error.isLockHeld ? .cacheInUse(directory: directory) : .cache(directory: directory, detail: "\(error)")
        }
        do {
            store = try PieceStore(layout: metainfo.layout, directory: directory)
            // A symlink or FIFO where a file of ours belongs: refuse now, with its name, rather
            // than fail every write to it (the store never follows or opens it either way).
            try store.refuseUnsafeEntries()
            // A minimal copy of the torrent (its info dictionary) names the entry in `cache list`.
            try CacheRoot.storeTorrent(Array("d4:info".utf8) + metainfo.rawInfo + Array("e".utf8), directory: directory)
            CacheRoot.markUsed(directory: directory)
        } catch {
            lock.release()
            throw .cache(directory: directory, detail: "\(error)")
        }

        let threadPool = engine.threadPool
        let have: Bitfield
        do {
            if let problem = ResumeRecord.unsafeEntry(directory: directory) {
                logger.warning("resume record ignored: every piece is checked again", metadata: ["reason": "\(problem)"])
            }
            have = try await threadPool.runIfActive {
                let record = ResumeRecord.load(directory: directory, metainfo: metainfo)
                return try recheck(store: store, metainfo: metainfo, record: record, progress: nil)
            }
        } catch {
            store.close()
            lock.release()
            throw .cache(directory: directory, detail: "cannot check the cache: \(error)")
        }
        logger.info("cache checked", metadata: ["verifiedPieces": "\(have.setCount)", "pieces": "\(metainfo.layout.pieceCount)"])

        let eventLoop = engine.eventLoop
        let verified = VerifiedPieces(have)
        let statusBoard = StatusBoard(SessionStatus(
            infoHash: metainfo.infoHash.hex, name: metainfo.name, totalLength: metainfo.layout.totalLength,
            verifiedBytes: 0, verifiedPieces: have.setCount, pieceCount: metainfo.layout.pieceCount,
            downloadedBytes: 0, uploadedBytes: 0, downloadRate: 0, uploadRate: 0, peers: 0,
            cacheDiskBytes: store.allocatedBytes(), pendingReads: 0, piecesWaitingForReaders: 0, files: []))
        let peerID = engine.peerID
        let (rateLimits, memoryBudget, torrents) = (engine.rateLimits, engine.memoryBudget, engine.torrents)
        let cacheSpace = engine.cacheSpace
        let dialer = engine.dialer
        let checkpointer = Checkpointer(store: store, infoHash: metainfo.infoHash, verified: have)

        let foreman: NIOLoopBound<Foreman>
        let sessionLogger = logger
        do {
            foreman = try await eventLoop.submit {
                NIOLoopBound(Foreman(metainfo: metainfo, have: have, eventLoop: eventLoop, threadPool: threadPool,
                                     store: store, configuration: configuration, logger: sessionLogger, ourPeerID: peerID,
                                     verified: verified, statusBoard: statusBoard, checkpointer: checkpointer,
                                     rateLimits: rateLimits.value, memoryBudget: memoryBudget.value,
                                     cacheSpace: cacheSpace.value, dialer: dialer.value),
                             eventLoop: eventLoop)
            }.get()
        } catch {
            store.close()
            lock.release()
            throw .shutDown
        }

        let port = engine.listenPort
        let handover = engine.metadataHandover
        let upload = configuration.uploadEnabled
        // BEP 27: a private torrent's peers come from its tracker alone.
        let discovery = metainfo.isPrivate || !upload ? nil : engine.localDiscovery
        // The DHT (BEP 5) never for a private torrent (BEP 27); on before the first handshake.
        let dhtPort = metainfo.isPrivate || !configuration.useDHT ? nil : engine.dhtPort
        do {
            try await eventLoop.submit {
                foreman.value.listenPort = port
                if let dhtPort { foreman.value.enableDHT(port: dhtPort) { engine.dhtAddNode(host: $0, port: $1) } }
                foreman.value.start()
                // Only a torrent that uploads is found by the router: one that does not never
                // accepted incoming peers.
                if upload { torrents.value.add(foreman.value) }
                // A magnet's metadata-phase connections first: their addresses are then not
                // dialled again.
                foreman.value.adopt(handover.value.take(metainfo.infoHash))
                foreman.value.addPeerAddresses(peerAddresses)
                discovery?.value.add(metainfo.infoHash, port: port) { found in
                    foreman.value.addPeerAddresses([(host: found.host, port: found.port)])
                }
            }.get()
        } catch {
            store.close()
            lock.release()
            throw .shutDown
        }

        var announcer: Announcer?
        if configuration.useTrackers, metainfo.trackers.contains(where: { !$0.isEmpty }) {
            announcer = Announcer(infoHash: metainfo.infoHash, trackers: metainfo.trackers, peerID: peerID, port: port,
                                  group: engine.group, subject: ForemanAnnounceSubject(foreman: foreman, eventLoop: eventLoop),
                                  logger: logger)
            announcer?.start()
        }
        let dhtAnnouncer = dhtPort == nil ? nil : startDHT(engine: engine, metainfo: metainfo,
                                                            configuration: configuration, foreman: foreman, logger: logger)
        // Incoming peers are routed to it from here on (tests wait for this line).
        logger.info("torrent running", metadata: ["listenPort": "\(port)", "upload": "\(upload)"])
        return TorrentSession(metainfo: metainfo, configuration: configuration, engine: engine, ownsEngine: ownsEngine,
                              store: store, lock: lock, foreman: foreman,
                              verified: verified, statusBoard: statusBoard, announcer: announcer,
                              dhtAnnouncer: dhtAnnouncer, logger: logger)
    }

    /// Starts the torrent's DHT lookups (the engine runs a DHT node, the torrent is not private).
    private static func startDHT(engine: SwarmEngine, metainfo: Metainfo, configuration: SessionConfiguration,
                                 foreman: NIOLoopBound<Foreman>, logger: Logger) -> DHTAnnouncer {
        let loop = engine.eventLoop
        let announcePort = configuration.uploadEnabled && engine.listenPort != 0 ? engine.listenPort : nil
        let announcer = DHTAnnouncer(engine: engine, infoHash: metainfo.infoHash, announcePort: announcePort,
                                     foreman: foreman, eventLoop: loop, logger: logger)
        announcer.start()
        return announcer
    }

    static func parsePeers(_ values: [String]) throws(SessionError) -> [(host: String, port: UInt16)] {
        var result: [(host: String, port: UInt16)] = []
        for value in values {
            guard let colon = value.lastIndex(of: ":"), let port = UInt16(value[value.index(after: colon)...]), port > 0 else {
                throw .badPeerAddress(value)
            }
            var host = String(value[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw .badPeerAddress(value) }
            result.append((host, port))
        }
        return result
    }

    // MARK: - Running

    /// Returns when every piece is verified (immediately if the cache was complete).
    public func waitUntilComplete() async throws(SessionError) {
        let foreman = self.foreman
        do {
            try await eventLoop.flatSubmit { foreman.value.whenComplete() }.get()
        } catch {
            throw .shutDown
        }
        await announcer?.completed()
    }

    /// Stops cleanly: waiting reads fail with `.shutdown`, pieces being written finish, the
    /// resume record is saved, trackers hear `stopped` (with a short deadline), and sockets close.
    public func shutdown() async {
        guard !isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let foreman = self.foreman
        let torrents = engine.torrents
        let infoHash = metainfo.infoHash
        engine.sessionStopped(infoHash)
        dhtAnnouncer?.stop()
        async let stopped: Void = announcer?.stop() ?? ()
        let discovery = engine.localDiscovery
        try? await eventLoop.flatSubmit {
            torrents.value.remove(infoHash)
            discovery?.value.remove(infoHash)
            return foreman.value.shutdown()
        }.get()
        await stopped
        store.close()
        lock.release()
        if ownsEngine { await engine.shutdown() }
    }

    // MARK: - TorrentContentSource

    public func openReader(fileIndex: Int) -> ReaderID {
        let reader = ReaderID(rawValue: nextID.wrappingAdd(1, ordering: .relaxed).oldValue)
        // Pinned here, before any read of this reader can be answered from the file's fd (the hot
        // path replies without visiting the loop); the Foreman unpins at `closeReader`.
        if metainfo.layout.files.indices.contains(fileIndex) { store.pinFile(fileIndex) }
        let foreman = self.foreman
        eventLoop.execute { foreman.value.openReader(reader, fileIndex: fileIndex) }
        return reader
    }

    public func closeReader(_ reader: ReaderID) {
        let foreman = self.foreman
        eventLoop.execute { foreman.value.closeReader(reader) }
    }

    public func read(_ reader: ReaderID, fileIndex: Int, offset: Int64, length: Int,
                     completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void) -> ReadTicket {
        let layout = metainfo.layout
        guard fileIndex >= 0, fileIndex < layout.files.count, offset >= 0, length >= 0,
              offset + Int64(length) <= layout.files[fileIndex].length else {
            completion(.failure(.invalidRange(file: fileIndex, offset: offset, length: length)))
            return .completed
        }
        guard !isShutDown.load(ordering: .relaxed) else {
            completion(.failure(.shutdown))
            return .completed
        }
        let foreman = self.foreman
        let pieces = layout.pieces(file: fileIndex, offset: offset, length: Int64(length))
        if length == 0 || verified.beginRead(pieces) {
            // The hot path of streaming: no hop to the loop before replying, only a note so that the
            // reader's window moves on. The pieces stay pinned until the reply is sent.
            eventLoop.execute { foreman.value.noteRead(reader, fileIndex: fileIndex, offset: offset, length: length) }
            completion(ReadDesk.span(store: store, fileIndex: fileIndex, offset: offset, length: length))
            if length > 0 { verified.endRead(pieces) }
            return .completed
        }
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        eventLoop.execute {
            foreman.value.addWaiter(id: id, reader: reader, fileIndex: fileIndex, offset: offset, length: length,
                                    completion: completion)
        }
        let loop = eventLoop
        return ReadTicket { loop.execute { foreman.value.cancelWaiter(id) } }
    }

    /// O(1) but for the cache's disk use, measured at most once a second (see `StatusBoard`).
    public func statusSnapshot() -> SessionStatus {
        statusBoard.current(now: .now()) { store.allocatedBytes() }
    }
}
