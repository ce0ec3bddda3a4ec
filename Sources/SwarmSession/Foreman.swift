import Logging
import NIOCore
import NIOPosix
import SwarmContent
import SwarmMetainfo
import SwarmPieces
import SwarmStorage
import SwarmWire

/// The PieceManager: the one owner of a torrent's piece state, peers and waiting reads.
///
/// Confined to the torrent's event loop: every method runs there, so none of them suspends half
/// way and no lock is needed. It is the only entry point for events: workers (`PeerConnection`)
/// report here and do what it says, the session hands it reads, the engine's router hands it
/// connections, and hashing and disk I/O run on the thread pool and report back here. The parts
/// it owns each keep one concern's books and act only when it calls them: `PeerRoster`
/// (connections), `RequestScheduler` (requests), `PieceAssembly` (pieces in memory and their
/// jobs), `ReadDesk` (readers and waiting reads), `Uploader` (choking and serving),
/// `CacheShare` and `PieceMemoryShare` (our part of the engine's limits), `CheckpointSchedule`
/// (the resume record), and the picker (piece and block state). Housekeeping is in
/// `Foreman+Housekeeping.swift`, what peers' messages mean in `Foreman+PeerMessages.swift`, the
/// cache limit in `Foreman+CacheSpace.swift`.
///
/// Invariants:
/// - A request is outstanding at peer P (`P.outstanding`) <=> the picker names P as a holder of
///   that block; every path that drops one drops the other (a block arriving, a reject, a choke,
///   a seek's preemption, a stall, a disconnect: all in `RequestScheduler`).
/// - A piece is in one stage at a time: missing, being assembled, in a piece job, verified
///   (`picker.have`), or being evicted (`cache`; still in `picker.have` until its hole is
///   punched, but missing to reads). Readers may read a piece (`verified`) only once it is
///   stored; an eviction withdraws it from them before it starts.
/// - A connection is in at most one of the roster's handshaking connections and `peers`; only
///   `peers` hear about pieces, get requests or are served.
/// - Every read id is answered exactly once, on the thread pool: by the `ReadDesk`, or by the
///   `PieceJob` it was handed to.
/// - After `stopped`, nothing new starts: no connection is admitted or dialled, no request is
///   sent, no read waits (it fails with `.shutdown`); piece jobs in flight drain before the last
///   checkpoint.
/// - Time is read from `clock` only.
final class Foreman {
    let metainfo: Metainfo
    let layout: FileLayout
    let eventLoop: EventLoop
    let threadPool: NIOThreadPool
    let store: PieceStore
    let configuration: SessionConfiguration
    let logger: Logger
    let ourPeerID: PeerID
    /// The gate of pieces readers may read, shared with the session's threads.
    let verified: VerifiedPieces
    let statusBoard: StatusBoard
    let checkpointer: Checkpointer
    /// What every decision that depends on time reads (never `NIODeadline.now()` directly).
    let clock: any ForemanClock

    var picker: PiecePicker
    /// The engine's global token buckets, shared with every other torrent.
    let rateLimits: RateLimits
    /// Our part of the engine's `--cache-size`: what we store and evict (see `CacheShare`).
    let cache: CacheShare
    /// Our part of the engine's piece-memory budget: how many pieces may be in flight.
    let pieceMemory: PieceMemoryShare
    /// Connections and the addresses we know (see `PeerRoster`).
    private(set) lazy var roster = PeerRoster(foreman: self, maxPeers: configuration.maxPeers,
                                              dialer: dialer)
    /// Sending and taking back requests within the download limit (see `RequestScheduler`).
    private(set) lazy var scheduler = RequestScheduler(foreman: self, limits: rateLimits)
    /// Pieces being assembled and hashed (see `PieceAssembly`).
    private(set) lazy var assembly = PieceAssembly(foreman: self, pieceLength: layout.pieceLength,
                                                   keepAtMost: buffersKept)
    /// Readers, and reads waiting for pieces or being answered (see `ReadDesk`).
    private(set) lazy var readDesk = ReadDesk(foreman: self)
    /// The torrent's web seeds, each a seed peer on a local pipe (see `WebSeeds`).
    private(set) lazy var webSeeds = WebSeeds(foreman: self, urls: configuration.useWebSeeds ? metainfo.webSeeds : [])
    /// Choking, serving peers' requests within the upload limit (see `Uploader`).
    private(set) lazy var uploader = Uploader(foreman: self, limits: rateLimits)
    /// When the resume record is saved (see `CheckpointSchedule`).
    let checkpoints: CheckpointSchedule
    /// How outbound connections are made (the engine's: uTP, TCP, the address they leave from).
    private let dialer: PeerDialer
    /// Piece buffers kept for reuse: what the budget allowed at the start, at most 16.
    private let buffersKept: Int

    /// Storage failed (a full disk): whether new pieces are fetched, and what to log.
    private(set) var storagePause = StorageFailurePause()
    /// What reads of missing data fail with while the pause lasts.
    private var storageFailure: ContentReadError?
    var isStoragePaused: Bool { storagePause.isPaused }

    /// The engine's listening port, told to peers in our extension handshake (0: none).
    var listenPort: UInt16 = 0
    /// The engine's DHT port, sent to peers that set the DHT bit (BEP 5 `port`); nil: DHT off
    /// for this torrent. See `Foreman+DHT.swift`.
    var dhtPort: UInt16?
    /// Hears the DHT node a peer named in its `port` message (host, port).
    var dhtNodeHeard: ((String, UInt16) -> Void)?
    /// Housekeeping (see `Foreman+Housekeeping.swift`): the next tick, how many ran, the last.
    var tickTask: Scheduled<Void>?
    var nextTickAt = NIODeadline.distantFuture
    var tickCount: UInt32 = 1
    var lastTick: NIODeadline
    /// Background fill stays off the wire until then (reads had to wait).
    var backgroundHeldUntil = NIODeadline.distantPast
    private(set) var stopped = false
    private var completionPromises: [EventLoopPromise<Void>] = []

    var peers: [PeerKey: PeerConnection] { roster.peers }
    var downloadMeter: RateMeter { scheduler.meter }
    var uploadMeter: RateMeter { uploader.meter }
    var hashJobsInFlight: Int { assembly.jobsInFlight }

    init(metainfo: Metainfo, have: Bitfield, eventLoop: EventLoop, threadPool: NIOThreadPool,
         store: PieceStore, configuration: SessionConfiguration, logger: Logger, ourPeerID: PeerID,
         verified: VerifiedPieces, statusBoard: StatusBoard, checkpointer: Checkpointer,
         rateLimits: RateLimits, memoryBudget: PieceMemoryBudget, cacheSpace: CacheSpace, dialer: PeerDialer,
         clock: any ForemanClock = SystemForemanClock()) {
        self.metainfo = metainfo
        layout = metainfo.layout
        self.eventLoop = eventLoop
        self.threadPool = threadPool
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.ourPeerID = ourPeerID
        self.verified = verified
        self.statusBoard = statusBoard
        self.checkpointer = checkpointer
        self.clock = clock
        self.rateLimits = rateLimits
        self.dialer = dialer
        lastTick = clock.now
        cache = CacheShare(space: cacheSpace, layout: metainfo.layout, have: have)
        checkpoints = CheckpointSchedule(checkpointer: checkpointer, threadPool: threadPool, eventLoop: eventLoop,
                                         logger: logger, configuration: configuration, clock: clock)
        // Pieces in flight count against a size limit too: keep them to a quarter of it.
        pieceMemory = PieceMemoryShare(budget: memoryBudget, pieceLength: metainfo.layout.pieceLength,
                                       cap: cache.piecesInFlightCap)
        let allowance = pieceMemory.allowedPieces
        buffersKept = min(allowance, 16)
        picker = PiecePicker(layout: metainfo.layout, have: have,
                             backgroundEnabled: configuration.downloadMode == .all,
                             maxPiecesInProgress: allowance)
        updateBackgroundFill()
    }

    // MARK: - Lifecycle

    func start() {
        cache.join(as: self)
        lastTick = clock.now
        scheduleTick(in: Self.activeTick)
        publishStatus()
        connectMore()
    }

    /// Resolves once every piece is verified.
    func whenComplete() -> EventLoopFuture<Void> {
        if picker.isComplete { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        completionPromises.append(promise)
        return promise.futureResult
    }

    /// Stops every peer and read, waits for pieces being hashed or written, and checkpoints.
    func shutdown() -> EventLoopFuture<Void> {
        guard !stopped else { return eventLoop.makeSucceededVoidFuture() }
        stopped = true
        tickTask?.cancel()
        pieceMemory.leave()
        cache.leave()
        readDesk.failAll(with: .shutdown)
        roster.closeAll()
        for promise in completionPromises { promise.fail(SessionError.shutDown) }
        completionPromises.removeAll()
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        return assembly.drained().flatMap {
            bound.value.publishStatus()
            return bound.value.checkpoints.running ?? bound.value.eventLoop.makeSucceededVoidFuture()
        }.flatMap {
            // No sync at the end: what is not durable yet is claimed for this boot only, so
            // stopping never waits for gigabytes of writeback.
            bound.value.checkpoint(force: true, syncData: false)
        }
    }

    // MARK: - Reads (from the filesystem)

    func openReader(_ reader: ReaderID, fileIndex: Int) {
        wake()
        readDesk.openReader(reader, fileIndex: fileIndex)
        picker.setTailWindow(reader: reader.rawValue, pieces: Self.playerTail(of: fileIndex, in: layout))
    }

    /// The end of a media file that a player reads right after its first bytes (an MP4's `moov`
    /// when it is at the end, Matroska's cues, an AVI's index, the last Ogg page): fetched from
    /// the open on, ahead of readahead, so that read is served from the cache instead of costing
    /// a round trip and a piece (`PiecePicker.setTailWindow`). The last 0.2 % of the file, at
    /// least 1 MiB and at most 8 MiB (an index grows with the running time: ~1 MB an hour of
    /// H.264); nothing for other files, or for one so small that readahead covers it.
    static func playerTail(of fileIndex: Int, in layout: FileLayout) -> Range<Int>? {
        guard layout.files.indices.contains(fileIndex) else { return nil }
        let file = layout.files[fileIndex]
        guard let name = file.path.last, MediaFile.isPlayable(name) else { return nil }
        let tail = min(max(file.length / 500, 1 << 20), 8 << 20)
        guard file.length >= 4 * tail else { return nil }
        return layout.pieces(file: fileIndex, offset: file.length - tail, length: tail)
    }

    func closeReader(_ reader: ReaderID) {
        guard let fileIndex = readDesk.closeReader(reader) else { return }
        picker.setWindow(reader: reader.rawValue, pieces: nil)
        picker.setTailWindow(reader: reader.rawValue, pieces: nil)
        // The kernel releases a handle only after its reads are answered: drop the pin that
        // `TorrentSession.openReader` took for this reader (pins are counted, so other readers of
        // the file keep theirs), and the store may close the fd when it needs the slot.
        store.unpinFile(fileIndex)
    }

    /// Moves the reader's readahead window to follow a read.
    func noteRead(_ reader: ReaderID, fileIndex: Int, offset: Int64, length: Int) {
        wake()
        if length > 0 { cache.used(layout.pieces(file: fileIndex, offset: offset, length: Int64(length))) }
        let window = readDesk.follow(reader, fileIndex: fileIndex, offset: offset, length: length, cap: cache.readaheadCap)
        picker.setWindow(reader: reader.rawValue, pieces: window)
    }

    /// A read of bytes that were not verified when the session looked: answered at once if they
    /// are now, failed at once while storage fails, otherwise booked to wait for its pieces, which
    /// then go ahead of everything else.
    func addWaiter(id: UInt64, reader: ReaderID, fileIndex: Int, offset: Int64, length: Int,
                   completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void) {
        wake()
        guard !stopped else {
            readDesk.complete(completion, with: .failure(.shutdown))
            return
        }
        noteRead(reader, fileIndex: fileIndex, offset: offset, length: length)
        if let storageFailure, storagePause.isPaused {
            readDesk.complete(completion, with: .failure(storageFailure))
            return
        }
        let pieces = layout.pieces(file: fileIndex, offset: offset, length: Int64(length))
        let missing = pieces.filter { !picker.hasPiece($0) || cache.isBeingEvicted($0) }
        if missing.isEmpty {
            readDesk.serve(id: id, reader: reader, fileIndex: fileIndex, offset: offset, length: length, completion: completion)
            return
        }
        guard readDesk.wait(id: id, reader: reader, fileIndex: fileIndex, offset: offset, length: length,
                            pieces: pieces, missing: missing, completion: completion) else { return }
        // Reads that wait come in runs (a player seeking, a reader outpacing the swarm): keep
        // background fill off the wire until they have been quiet for a moment.
        backgroundHeldUntil = clock.now + Self.backgroundHoldAfterWait
        picker.holdBackground = true
        // A seek: the reader needs a piece nobody is fetching yet.
        let newlyWanted = missing.contains { !picker.isInProgress($0) }
        picker.addWaitingRead(pieces: pieces)
        if newlyWanted { scheduler.preemptQueued() }
        scheduler.fillAll()
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.scheduleTask(in: Self.raceDelay) { bound.value.allowRacing(forWaiter: id) }
    }

    /// How long a read waits before peers that delivered their share of its pieces may duplicate
    /// blocks others still owe: several times what a piece takes from peers on a LAN.
    static let raceDelay = TimeAmount.milliseconds(20)

    private func allowRacing(forWaiter id: UInt64) {
        guard let pieces = readDesk.pieces(of: id) else { return }
        picker.allowRacing(of: pieces)
        scheduler.fillAll()
    }

    /// The reader gave up on read `id` (an interrupt, a killed reader): it fails with
    /// `.cancelled` now, or, if its reply is already under way, as soon as it would wait again.
    func cancelWaiter(_ id: UInt64) {
        readDesk.cancel(id)
    }

    /// How long background fill stays held after a read had to wait.
    private static let backgroundHoldAfterWait = TimeAmount.milliseconds(300)

    /// A read's wait ended: background fill stays held a moment longer, as a reader that waited
    /// reads on at once (a player after a seek reads the frames that follow). Held only from the
    /// wait's start, the hold ran out before a wait longer than it ended (at 100 ms one way a
    /// seek's piece takes 260-520 ms), and the peers' queues were topped up with background
    /// pieces as the piece landed, in front of the reader's next read.
    private func holdBackgroundAfterWait() {
        backgroundHeldUntil = max(backgroundHeldUntil, clock.now + Self.backgroundHoldAfterWait)
        picker.holdBackground = true
    }

    // MARK: - Connections (from the router, the dialler and the workers)

    func makePeerKey() -> PeerKey {
        roster.makePeerKey()
    }

    /// Accepts an incoming connection from `host` if there is room for it and the host is not banned.
    func acceptsIncoming(from host: String) -> Bool {
        roster.acceptsIncoming(from: host)
    }

    /// Whether one more connection fits under `--max-peers` with `extra` others not yet counted
    /// (incoming connections the engine's router holds until they name a torrent).
    func hasRoom(besides extra: Int) -> Bool {
        roster.hasRoom(besides: extra)
    }

    /// Adds addresses (from trackers or the command line) and connects to them if there is room.
    func addPeerAddresses(_ addresses: [(host: String, port: UInt16)]) {
        wake()
        for address in addresses { roster.directory.add(host: address.host, port: address.port) }
        connectMore()
    }

    /// Dials known peers while there is room, and opens the web seeds that are due.
    func connectMore() {
        roster.connectMore()
        webSeeds.connectDue(now: clock.now)
    }

    /// A TCP connection is up: it waits for its handshake (see `PeerRoster.opened`).
    ///
    /// Nothing follows our handshake until the peer's arrives, though `interested` sent with it
    /// would let a peer unchoke us in its answer, a round trip sooner (80 ms at 40 ms one way):
    /// aria2 refuses any byte after a handshake it has not answered yet ("More than
    /// BtHandshakeMessage::MESSAGE_LENGTH bytes are buffered") and bans the sender.
    func connectionOpened(_ peer: PeerConnection) {
        wake()
        roster.opened(peer)
    }

    /// The peer's handshake arrived: if the roster admits it, it hears our extension handshake
    /// and what we have (unless `alreadyIntroduced`: a connection of the metadata phase, whose
    /// peer heard then that we had nothing, see `adopt`).
    func peer(_ peer: PeerConnection, sentHandshake handshake: Handshake, alreadyIntroduced: Bool = false) {
        guard roster.admit(peer, handshake: handshake) else { return }
        if peer.supportsExtensions {
            peer.send(.extended(id: 0, payload: ourExtensionHandshake().encoded()))
        }
        if let dhtPort, handshake.supportsDHT { peer.send(.port(dhtPort)) }
        let have = verified.snapshot
        if alreadyIntroduced {
            // Nothing more to say: `have-none` and `interested` went out then, and we have
            // nothing yet.
        } else if peer.supportsFast && have.isComplete {
            peer.send(.haveAll)
        } else if peer.supportsFast && have.setCount == 0 {
            peer.send(.haveNone)
        } else if have.setCount > 0 {
            var buffer = ByteBuffer()
            buffer.writeBytes(have.wireBytes)
            peer.send(.bitfield(buffer))
        }
        uploader.unchokeNewcomer(peer, weHavePieces: have.setCount > 0)
        peer.flush()
    }

    func peerReadBatchEnded(_ peer: PeerConnection) {
        scheduler.fill(peer)
    }

    /// The peer's channel drained below its water mark: requests that waited are served.
    func peerBecameWritable(_ peer: PeerConnection) {
        uploader.resumeParked(for: peer)
    }

    /// The peer sent bytes that are not the protocol (an oversized or malformed frame, garbage
    /// for a handshake): said at warning level, and the address is not tried again.
    func peer(_ peer: PeerConnection, brokeProtocol violation: PeerWireError) {
        roster.misbehaved(peer, "\(violation)")
    }

    func peer(_ peer: PeerConnection, failed reason: String) {
        logger.debug("peer connection failed", metadata: ["peer": "\(peer.address)", "reason": "\(reason)"])
    }

    /// The connection closed: a peer's requests go to others, its queued uploads are dropped,
    /// and its pieces no longer count in availability.
    func peerDisconnected(_ peer: PeerConnection) {
        guard roster.closed(peer) else { return }
        scheduler.releaseAll(of: peer, sendCancel: false)
        uploader.peerGone(peer.key)
        if peer.isSeed { picker.seedRemoved() } else { picker.peerRemoved(bitfield: peer.pieces) }
        if !stopped { connectMore() }
    }

    // MARK: - Pieces (from the workers and the pool)

    /// A block arrived: if we asked for it and the picker still wants it, it goes into its piece,
    /// a racer still owing it is cancelled, and a complete piece goes to its job.
    func blockArrived(from peer: PeerConnection, piece: Int, begin: Int, block: ByteBuffer) {
        let spec = BlockSpec(piece: piece, begin: begin, length: block.readableBytes)
        guard scheduler.blockArrived(spec, from: peer) else { return }
        guard case let .accepted(pieceComplete, other) = picker.blockReceived(from: peer.key, piece: piece, begin: begin) else {
            return
        }
        let completed = assembly.add(block, piece: piece, begin: begin, from: peer.key, completes: pieceComplete)
        if let other, let racer = peers[other] { scheduler.lostRace(spec, at: racer) }
        if let completed {
            assembly.verifyAndStore(piece: piece, buffer: completed.buffer, senders: completed.senders,
                                    reads: readDesk.takeWaitersCompletedBy(piece))
        }
    }

    /// A piece's job reported (`PieceAssembly`): the reads it was given are settled, and the
    /// piece is verified, fetched again, or storage failed.
    func pieceChecked(_ piece: Int, outcome: PieceOutcome, senders: Set<PeerKey>, reads: [PieceJobRead]) {
        switch outcome {
        case let .stored(served), let .storageFailed(_, served):
            readDesk.settleJobReads(reads, piece: piece, served: served)
        case .hashMismatch:
            readDesk.settleJobReads(reads, piece: piece, served: [])
        }
        switch outcome {
        case .stored:
            if storagePause.writeSucceeded() {
                logger.info("storing pieces again after a storage error")
            }
            picker.pieceVerified(piece)
            verified.insert(piece)
            cache.pieceVerified(piece)
            if cache.limit != nil { enforceCacheLimit() }
            checkpoints.pieceVerified()
            logger.trace("piece verified", metadata: ["piece": "\(piece)"])
            if !reads.isEmpty || !readDesk.ids(waitingFor: piece).isEmpty { holdBackgroundAfterWait() }
            for peer in peers.values where peer.handshakeDone {
                peer.send(.have(piece: UInt32(piece)))
            }
            readDesk.pieceVerified(piece)
            if picker.isComplete { torrentCompleted() }
        case .hashMismatch:
            picker.pieceFailed(piece)
            logger.warning("piece failed its hash check; fetching it again",
                           metadata: ["piece": "\(piece)", "peers": "\(senders.compactMap { peers[$0]?.address })"])
            roster.sentBadPiece(senders)
        case let .storageFailed(error, _):
            picker.pieceFailed(piece)
            storageFailed(error, piece: piece)
        }
        guard !stopped else { return }
        for peer in peers.values { peer.flush() }
        scheduler.fillAll()
    }

    /// A full disk or I/O error: stop fetching (no re-request loop), fail the waiting reads with
    /// the storage error, and resume by itself — a full disk once space is back, other errors
    /// after a pause. One message per episode, however many retries fail (`StorageFailurePause`).
    private func storageFailed(_ error: StorageError, piece: Int) {
        let failure = ContentReadError.storage(file: layout.slices(piece: piece).first?.fileIndex ?? 0,
                                               kind: error.readFailureKind, detail: "\(error)")
        switch storagePause.writeFailed(error, now: clock.now) {
        case .episodeStarted:
            let until = if case .diskFull = error { "until space is freed" } else { "for a while" }
            logger.error("cannot store piece; downloads pause \(until) and reads of missing data fail",
                         metadata: ["piece": "\(piece)", "error": "\(error)"])
        case .stillFailing:
            logger.debug("storing failed again", metadata: ["piece": "\(piece)", "error": "\(error)"])
        }
        storageFailure = failure
        readDesk.failAll(with: failure)
    }

    /// The pause after a storage error is over: a full disk stays paused (checked every second)
    /// until a few pieces fit again; any other error is simply retried. Recovery is declared
    /// only when a piece is stored after this.
    func resumeAfterStorageFailure(now: NIODeadline) {
        let needed = Int64(layout.pieceLength) * 4
        guard storagePause.pauseElapsed(now: now, freeBytes: store.availableBytes(), neededBytes: needed) else { return }
        storageFailure = nil
        logger.debug("retrying downloads after a storage error")
    }

    private func torrentCompleted() {
        logger.info("all pieces verified", metadata: ["infoHash": "\(metainfo.infoHash.hex)"])
        for peer in peers.values where peer.amInterested && !peer.isSeed {
            setInterested(peer, false)
        }
        webSeeds.closeAll()
        publishStatus()
        for promise in completionPromises { promise.succeed(()) }
        completionPromises.removeAll()
        checkpoint(force: true, syncData: false)
    }
}

extension PiecePicker {
    var piecesWaitingForReadersIsZero: Bool { piecesWaitingForReaders == 0 }
}
