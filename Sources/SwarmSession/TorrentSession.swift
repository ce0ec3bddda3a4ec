import Logging
import NIOCore
import NIOPosix
import SwarmContent
import SwarmMetainfo
import SwarmStorage
import SwarmTracker
import SwarmWire
import Synchronization

/// One torrent being downloaded, served and uploaded: the engine the filesystem and
/// `swarmfs download` drive.
///
/// All piece state lives in a `Foreman` on one event loop; this type is the thread-safe front
/// door. Reads of verified pieces are answered on the caller's thread without touching the loop.
public final class TorrentSession: TorrentContentSource {
    public let metainfo: Metainfo
    public let configuration: SessionConfiguration
    /// The TCP port peers can reach us on (0 if not listening).
    public let listenPort: UInt16

    private let group: MultiThreadedEventLoopGroup
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
    private let serverChannel: Channel?
    private let logger: Logger
    private let nextID = Atomic<UInt64>(1)
    private let isShutDown = Atomic<Bool>(false)

    private init(metainfo: Metainfo, configuration: SessionConfiguration, listenPort: UInt16,
                 group: MultiThreadedEventLoopGroup, threadPool: NIOThreadPool, store: PieceStore, lock: CacheLock,
                 foreman: NIOLoopBound<Foreman>, verified: VerifiedPieces, statusBoard: StatusBoard,
                 announcer: Announcer?, serverChannel: Channel?, logger: Logger) {
        self.metainfo = metainfo
        self.configuration = configuration
        self.listenPort = listenPort
        self.group = group
        eventLoop = group.next()
        self.threadPool = threadPool
        self.store = store
        self.lock = lock
        self.foreman = foreman
        self.verified = verified
        self.statusBoard = statusBoard
        self.announcer = announcer
        self.serverChannel = serverChannel
        self.logger = logger
    }

    /// Opens (or adopts) the cache, checks what it holds, starts listening, contacts trackers and
    /// the given peers. Returns once the session serves reads.
    public static func start(metainfo: Metainfo, configuration: SessionConfiguration,
                             logger baseLogger: Logger) async throws(SessionError) -> TorrentSession {
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

        let threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
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
            try? await threadPool.shutdownGracefully()
            store.close()
            lock.release()
            throw .cache(directory: directory, detail: "cannot check the cache: \(error)")
        }
        logger.info("cache checked", metadata: ["verifiedPieces": "\(have.setCount)", "pieces": "\(metainfo.layout.pieceCount)"])

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let eventLoop = group.next()
        let verified = VerifiedPieces(have)
        let statusBoard = StatusBoard(SessionStatus(
            infoHash: metainfo.infoHash.hex, name: metainfo.name, totalLength: metainfo.layout.totalLength,
            verifiedBytes: 0, verifiedPieces: have.setCount, pieceCount: metainfo.layout.pieceCount,
            downloadedBytes: 0, uploadedBytes: 0, downloadRate: 0, uploadRate: 0, peers: 0,
            cacheDiskBytes: store.allocatedBytes(), pendingReads: 0, piecesWaitingForReaders: 0, files: []))
        let peerID = PeerID.generate()
        let checkpointer = Checkpointer(store: store, infoHash: metainfo.infoHash, verified: have)

        let foreman: NIOLoopBound<Foreman>
        let sessionLogger = logger
        do {
            foreman = try await eventLoop.submit {
                NIOLoopBound(Foreman(metainfo: metainfo, have: have, eventLoop: eventLoop, threadPool: threadPool,
                                     store: store, configuration: configuration, logger: sessionLogger, ourPeerID: peerID,
                                     verified: verified, statusBoard: statusBoard, checkpointer: checkpointer),
                             eventLoop: eventLoop)
            }.get()
        } catch {
            try? await group.shutdownGracefully()
            try? await threadPool.shutdownGracefully()
            store.close()
            lock.release()
            throw .shutDown
        }

        var serverChannel: Channel?
        var listenPort: UInt16 = 0
        if configuration.uploadEnabled || configuration.listenPort != nil {
            do {
                (serverChannel, listenPort) = try await listen(configuration: configuration, foreman: foreman,
                                                               pieceCount: metainfo.layout.pieceCount, eventLoop: eventLoop)
            } catch {
                _ = try? await eventLoop.flatSubmit { foreman.value.shutdown() }.get()
                try? await group.shutdownGracefully()
                try? await threadPool.shutdownGracefully()
                store.close()
                lock.release()
                throw error
            }
        }
        let port = listenPort
        try? await eventLoop.submit {
            foreman.value.listenPort = port
            foreman.value.start()
            foreman.value.addPeerAddresses(peerAddresses)
        }.get()

        var announcer: Announcer?
        if configuration.useTrackers, metainfo.trackers.contains(where: { !$0.isEmpty }) {
            announcer = Announcer(metainfo: metainfo, peerID: peerID, port: listenPort, group: group,
                                  foreman: foreman, eventLoop: eventLoop, logger: logger)
            announcer?.start()
        }
        return TorrentSession(metainfo: metainfo, configuration: configuration, listenPort: listenPort,
                              group: group, threadPool: threadPool, store: store, lock: lock, foreman: foreman,
                              verified: verified, statusBoard: statusBoard, announcer: announcer,
                              serverChannel: serverChannel, logger: logger)
    }

    private static func parsePeers(_ values: [String]) throws(SessionError) -> [(host: String, port: UInt16)] {
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

    private static func listen(configuration: SessionConfiguration, foreman: NIOLoopBound<Foreman>, pieceCount: Int,
                               eventLoop: EventLoop) async throws(SessionError) -> (Channel, UInt16) {
        let bootstrap = ServerBootstrap(group: eventLoop)
            .serverChannelOption(ChannelOptions.backlog, value: 128)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.recvAllocator, value: Foreman.receiveBuffers)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let owner = foreman.value
                    let host = PeerDirectory.canonicalHost(channel.remoteAddress?.ipAddress ?? "?")
                    guard owner.acceptsIncoming(from: host) else {
                        channel.close(promise: nil)
                        return
                    }
                    let address = "\(host):\(channel.remoteAddress?.port ?? 0)"
                    let peer = PeerConnection(key: owner.makePeerKey(), host: host, address: address, isOutbound: false,
                                              pieceCount: pieceCount, foreman: owner)
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(PeerWireDecoder(limits: .limits(pieceCount: pieceCount))),
                        PeerWireOutboundHandler(),
                        peer,
                    ])
                }
            }
        let ports: [Int] = configuration.listenPort.map { [Int($0)] } ?? (Array(6881...6889) + [0])
        // "Any address" means IPv6 and IPv4 alike: a dual-stack socket on "::" where the machine
        // has IPv6, plain IPv4 where it has not.
        let hosts = configuration.listenHost == "0.0.0.0" ? ["::", "0.0.0.0"] : [configuration.listenHost]
        var lastError = "no port tried"
        for port in ports {
            for host in hosts {
                do {
                    let channel = try await bootstrap.bind(host: host, port: port).get()
                    return (channel, UInt16(channel.localAddress?.port ?? port))
                } catch {
                    lastError = "\(error)"
                }
            }
        }
        throw .listen(host: configuration.listenHost, port: configuration.listenPort, detail: lastError)
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
        async let stopped: Void = announcer?.stop() ?? ()
        try? await serverChannel?.close()
        try? await eventLoop.flatSubmit { foreman.value.shutdown() }.get()
        await stopped
        // The pool first: a job finishing late completes its promise on the still-running loop.
        try? await threadPool.shutdownGracefully()
        try? await group.shutdownGracefully()
        store.close()
        lock.release()
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
            completion(Foreman.span(store: store, fileIndex: fileIndex, offset: offset, length: length))
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
