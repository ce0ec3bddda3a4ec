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
/// way and no lock is needed. Workers (`PeerConnection`) report events here and do what it says;
/// hashing and disk I/O run on the thread pool and report back here.
final class Foreman {
    let metainfo: Metainfo
    let layout: FileLayout
    let eventLoop: EventLoop
    let threadPool: NIOThreadPool
    let store: PieceStore
    let configuration: SessionConfiguration
    let logger: Logger
    let ourPeerID: PeerID
    let verified: VerifiedPieces
    let statusBoard: StatusBoard
    let checkpointer: Checkpointer
    /// What every decision that depends on time reads (never `NIODeadline.now()` directly).
    let clock: any ForemanClock

    var picker: PiecePicker
    private let bufferPool: PieceBufferPool
    private var assembling: [Int: (buffer: PieceBuffer, senders: Set<PeerKey>)] = [:]
    private(set) var hashJobsInFlight = 0

    private(set) var peers: [PeerKey: PeerConnection] = [:]
    private var nextPeerKey: PeerKey = 0
    let directory: PeerDirectory
    /// Which misbehaving hosts were warned about lately: one warning per host, not one per reconnection.
    private var peerWarnings = RepeatedWarnings()
    /// The engine's global token buckets, shared with every other torrent.
    private let rateLimits: RateLimits
    /// Our part of the engine's piece-memory budget: how many pieces may be in flight.
    let pieceMemory: PieceMemoryShare
    /// The address outbound connections leave from ("0.0.0.0": any).
    private let connectFromHost: String
    /// Our part of the engine's `--cache-size`: what we store and evict (see `CacheShare`).
    let cache: CacheShare
    /// Sending and taking back requests within the download limit (see `RequestScheduler`).
    private(set) lazy var scheduler = RequestScheduler(foreman: self, limits: rateLimits)
    /// Choking, serving peers' requests within the upload limit (see `Uploader`).
    private lazy var uploader = Uploader(foreman: self, limits: rateLimits)

    /// Readers, and reads waiting for pieces or being answered (see `ReadDesk`).
    private(set) lazy var readDesk = ReadDesk(foreman: self)

    var downloadMeter: RateMeter { scheduler.meter }
    var uploadMeter: RateMeter { uploader.meter }
    private var lastTick: NIODeadline
    /// When the resume record is saved (see `CheckpointSchedule`).
    private let checkpoints: CheckpointSchedule
    /// Storage failed (a full disk): whether new pieces are fetched, and what to log.
    private var storagePause = StorageFailurePause()
    /// What reads of missing data fail with while the pause lasts.
    private var storageFailure: ContentReadError?

    var listenPort: UInt16 = 0
    private var tickCount: UInt32 = 1
    /// The next housekeeping tick: every `activeTick` while anything happens, every `idleTick`
    /// while nothing does (a library of a thousand idle torrents must not poll 4,000 times a second).
    private var tickTask: Scheduled<Void>?
    private var nextTickAt = NIODeadline.distantFuture
    static let activeTick = TimeAmount.milliseconds(250)
    static let idleTick = TimeAmount.seconds(5)
    private(set) var stopped = false
    private var completionPromises: [EventLoopPromise<Void>] = []
    private var drainPromise: EventLoopPromise<Void>?

    init(metainfo: Metainfo, have: Bitfield, eventLoop: EventLoop, threadPool: NIOThreadPool,
         store: PieceStore, configuration: SessionConfiguration, logger: Logger, ourPeerID: PeerID,
         verified: VerifiedPieces, statusBoard: StatusBoard, checkpointer: Checkpointer,
         rateLimits: RateLimits, memoryBudget: PieceMemoryBudget, cacheSpace: CacheSpace, connectFromHost: String,
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
        self.rateLimits = rateLimits
        self.connectFromHost = connectFromHost
        cache = CacheShare(space: cacheSpace, layout: metainfo.layout, have: have)
        self.clock = clock
        lastTick = clock.now
        checkpoints = CheckpointSchedule(checkpointer: checkpointer, threadPool: threadPool, eventLoop: eventLoop,
                                         logger: logger, configuration: configuration, clock: clock)
        let pieceLength = metainfo.layout.pieceLength
        // Pieces in flight count against a size limit too: keep them to a quarter of it.
        pieceMemory = PieceMemoryShare(budget: memoryBudget, pieceLength: pieceLength, cap: cache.piecesInFlightCap)
        let budgetPieces = pieceMemory.allowedPieces
        picker = PiecePicker(layout: metainfo.layout, have: have,
                             backgroundEnabled: configuration.downloadMode == .all,
                             maxPiecesInProgress: budgetPieces)
        bufferPool = PieceBufferPool(bufferSize: max(1, pieceLength), keepAtMost: min(budgetPieces, 16))
        directory = PeerDirectory()
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
        for peer in peers.values { peer.close() }
        for peer in handshaking.values { peer.close() }
        for promise in completionPromises { promise.fail(SessionError.shutDown) }
        completionPromises.removeAll()
        let drained: EventLoopFuture<Void>
        if hashJobsInFlight == 0 {
            drained = eventLoop.makeSucceededVoidFuture()
        } else {
            let promise = eventLoop.makePromise(of: Void.self)
            drainPromise = promise
            drained = promise.futureResult
        }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        return drained.flatMap {
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
    }

    func closeReader(_ reader: ReaderID) {
        guard let fileIndex = readDesk.closeReader(reader) else { return }
        picker.setWindow(reader: reader.rawValue, pieces: nil)
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
    private var backgroundHeldUntil = NIODeadline.distantPast

    // MARK: - Peers

    func makePeerKey() -> PeerKey {
        nextPeerKey &+= 1
        return nextPeerKey
    }

    /// A TCP connection is up. Until its handshake arrives it counts against the connection limit
    /// and has `handshakeTimeout` to complete; an outbound one introduces itself first.
    func connectionOpened(_ peer: PeerConnection) {
        wake()
        handshaking[peer.key] = peer
        if peer.isOutbound {
            peer.sendHandshake(Handshake.ours(infoHash: metainfo.infoHash, peerID: ourPeerID))
        }
    }

    /// Connections whose handshake has not arrived yet.
    private var handshaking: [PeerKey: PeerConnection] = [:]
    /// How long a new connection may take to send its handshake.
    static let handshakeTimeout = TimeAmount.seconds(10)
    /// Silence after which we send a keep-alive (peers drop links quiet for two minutes).
    static let keepAliveInterval = TimeAmount.seconds(90)
    /// Silence after which we give up on a peer (BEP 3 peers send a keep-alive every two minutes).
    static let idleTimeout = TimeAmount.seconds(180)

    func peer(_ peer: PeerConnection, sentHandshake handshake: Handshake) {
        handshaking[peer.key] = nil
        guard handshake.infoHash == metainfo.infoHash else {
            logger.info("peer sent a handshake for another torrent", metadata: ["peer": "\(peer.address)"])
            peer.close()
            return
        }
        guard handshake.peerID != ourPeerID else {
            directory.ban(peer.address)
            peer.close()
            return
        }
        guard !stopped, peers.count < configuration.maxPeers else {
            peer.close()
            return
        }
        // One connection per peer: a peer we dialled may also dial our listening port (it learns
        // it from our extension handshake); the second connection would ask it for everything twice.
        guard !peers.values.contains(where: { $0.remotePeerID == handshake.peerID }) else {
            logger.debug("second connection to a connected peer closed", metadata: ["peer": "\(peer.address)"])
            peer.close()
            return
        }
        if !peer.isOutbound {
            peer.sendHandshake(Handshake.ours(infoHash: metainfo.infoHash, peerID: ourPeerID))
        }
        peer.handshakeDone = true
        peer.remotePeerID = handshake.peerID
        peer.supportsFast = handshake.supportsFastExtension
        peer.supportsExtensions = handshake.supportsExtensionProtocol
        peers[peer.key] = peer
        directory.connected(peer.address)
        logger.debug("peer connected", metadata: ["peer": "\(peer.address)", "outbound": "\(peer.isOutbound)"])

        if peer.supportsExtensions {
            let ours = ExtensionHandshake(clientName: "swarmfs", reqq: 500, listenPort: listenPort == 0 ? nil : listenPort)
            peer.send(.extended(id: 0, payload: ours.encoded()))
        }
        let have = verified.snapshot
        if peer.supportsFast && have.isComplete {
            peer.send(.haveAll)
        } else if peer.supportsFast && have.setCount == 0 {
            peer.send(.haveNone)
        } else if have.setCount > 0 {
            var buffer = ByteBuffer()
            buffer.writeBytes(have.wireBytes)
            peer.send(.bitfield(buffer))
        }
        peer.flush()
    }

    func peer(_ peer: PeerConnection, sent message: PeerMessage) {
        guard peer.handshakeDone else { return }
        switch message {
        case .keepAlive, .port, .suggest:
            break
        case let .allowedFast(index):
            let piece = Int(index)
            guard peer.supportsFast else { return misbehaved(peer, "allowed-fast without the fast extension") }
            guard piece < layout.pieceCount else { return misbehaved(peer, "allowed-fast for piece \(index) of \(layout.pieceCount)") }
            guard peer.allowedFast.count < Self.allowedFastLimit else { return }
            peer.allowedFast.insert(piece)
            if peer.peerChoking { scheduler.fill(peer) }
        case .choke:
            peer.peerChoking = true
            if !peer.supportsFast { scheduler.releaseAll(of: peer, sendCancel: false) }
        case .unchoke:
            logger.trace("unchoked", metadata: ["peer": "\(peer.address)"])
            peer.peerChoking = false
            scheduler.fill(peer)
        case .interested:
            peer.peerInterested = true
            uploader.considerUnchoking(peer)
        case .notInterested:
            peer.peerInterested = false
            uploader.choke(peer)
        case let .have(index):
            let piece = Int(index)
            guard piece < layout.pieceCount else { return misbehaved(peer, "have for piece \(index) of \(layout.pieceCount)") }
            guard !peer.isSeed, !peer.pieces[piece] else { return }
            peer.pieces[piece] = true
            picker.peerHasPiece(piece)
            if !peer.amInterested && !picker.hasPiece(piece) { setInterested(peer, true) }
            scheduler.fill(peer)
        case let .bitfield(bytes):
            logger.trace("bitfield", metadata: ["peer": "\(peer.address)"])
            acceptPieceSummary(from: peer)
            do {
                let bitfield = try Bitfield(wireBytes: bytes.readableBytesView, count: layout.pieceCount)
                peer.pieces = bitfield
                picker.peerAdded(bitfield: bitfield)
                updateInterest(peer)
            } catch {
                return misbehaved(peer, "invalid bitfield of \(bytes.readableBytes) bytes: \(error)")
            }
        case .haveAll:
            acceptPieceSummary(from: peer)
            peer.isSeed = true
            picker.seedAdded()
            updateInterest(peer)
        case .haveNone:
            acceptPieceSummary(from: peer)
            updateInterest(peer)
        case let .request(request):
            uploader.serveRequest(request, to: peer)
        case let .cancel(request):
            uploader.cancel(request, from: peer)
        case let .reject(request):
            scheduler.rejected(BlockSpec(piece: Int(request.piece), begin: Int(request.begin), length: Int(request.length)),
                               by: peer)
        case let .piece(index, begin, block):
            blockArrived(from: peer, piece: Int(index), begin: Int(begin), block: block)
        case let .extended(id, payload):
            if id == 0, let theirs = try? ExtensionHandshake(decoding: payload), let reqq = theirs.reqq {
                peer.peerRequestQueueLimit = max(1, min(reqq, 2048))
            }
        }
    }

    /// A `bitfield`, `have-all` or `have-none` states everything the peer has: it replaces what
    /// the peer said before (some clients send `have-none` and then a bitfield), so availability
    /// never counts a peer twice.
    private func acceptPieceSummary(from peer: PeerConnection) {
        if peer.isSeed {
            peer.isSeed = false
            picker.seedRemoved()
        } else if peer.pieces.setCount > 0 {
            picker.peerRemoved(bitfield: peer.pieces)
        }
        peer.pieces = Bitfield(count: layout.pieceCount)
    }

    func peerReadBatchEnded(_ peer: PeerConnection) {
        scheduler.fill(peer)
    }

    /// The peer sent bytes that are not the protocol (an oversized or malformed frame, garbage
    /// for a handshake): said at warning level, and the address is not tried again.
    func peer(_ peer: PeerConnection, brokeProtocol violation: PeerWireError) {
        misbehaved(peer, "\(violation)")
    }

    func peer(_ peer: PeerConnection, failed reason: String) {
        logger.debug("peer connection failed", metadata: ["peer": "\(peer.address)", "reason": "\(reason)"])
    }

    func peerDisconnected(_ peer: PeerConnection) {
        handshaking[peer.key] = nil
        guard peers.removeValue(forKey: peer.key) != nil else {
            directory.disconnected(peer.address, wasUseful: false, now: clock.now)
            return
        }
        scheduler.releaseAll(of: peer, sendCancel: false)
        uploader.peerGone(peer.key)
        if peer.isSeed { picker.seedRemoved() } else { picker.peerRemoved(bitfield: peer.pieces) }
        directory.disconnected(peer.address, wasUseful: peer.download.total > 0, now: clock.now)
        logger.debug("peer disconnected", metadata: ["peer": "\(peer.address)"])
        if !stopped { connectMore() }
    }

    /// Closes a peer that broke the protocol and, once it had completed the handshake, bans its
    /// host: an incoming peer comes back from a new port every time, and is then refused at
    /// accept (`acceptsIncoming`). Bytes that are not a handshake only close the connection:
    /// clients such as aria2 open with an encrypted (MSE) handshake and retry in plaintext.
    private func misbehaved(_ peer: PeerConnection, _ what: String) {
        let metadata: Logger.Metadata = ["peer": "\(peer.address)", "detail": "\(what)"]
        if peerWarnings.shouldWarn(about: peer.host, now: clock.now) {
            logger.warning("closing peer that broke the protocol", metadata: metadata)
        } else {
            logger.debug("closing peer that broke the protocol (again)", metadata: metadata)
        }
        if peer.handshakeDone { directory.ban(host: peer.host) }
        peer.close()
    }

    private func updateInterest(_ peer: PeerConnection) {
        let wants = peer.isSeed ? !picker.isComplete : picker.wantsAnything(from: peer.pieces)
        setInterested(peer, wants)
        scheduler.fill(peer)
    }

    private func setInterested(_ peer: PeerConnection, _ interested: Bool) {
        guard peer.amInterested != interested else { return }
        peer.amInterested = interested
        peer.send(interested ? .interested : .notInterested)
        peer.flush()
    }

    // MARK: - Downloading

    /// The most allowed-fast pieces remembered per peer (BEP 6 suggests peers offer about 10).
    static let allowedFastLimit = 64

    var isStoragePaused: Bool { storagePause.isPaused }

    private func blockArrived(from peer: PeerConnection, piece: Int, begin: Int, block: ByteBuffer) {
        let spec = BlockSpec(piece: piece, begin: begin, length: block.readableBytes)
        guard scheduler.blockArrived(spec, from: peer) else { return }
        guard case let .accepted(pieceComplete, other) = picker.blockReceived(from: peer.key, piece: piece, begin: begin) else {
            return
        }
        var entry = assembling[piece] ?? (buffer: bufferPool.take(), senders: [])
        block.withUnsafeReadableBytes { entry.buffer.copyIn($0, at: begin) }
        entry.senders.insert(peer.key)
        if let other, let racer = peers[other] { scheduler.lostRace(spec, at: racer) }
        if pieceComplete {
            assembling[piece] = nil
            verifyAndStore(piece: piece, buffer: entry.buffer, senders: entry.senders)
        } else {
            assembling[piece] = entry
        }
    }

    /// Hashes the piece on the thread pool and, if it matches, writes it to the cache and answers
    /// the reads that were waiting for it alone (`PieceJob`).
    private func verifyAndStore(piece: Int, buffer: PieceBuffer, senders: Set<PeerKey>) {
        hashJobsInFlight += 1
        let reads = readDesk.takeWaitersCompletedBy(piece)
        let job = PieceJob(piece: piece, size: layout.pieceSize(piece), expected: metainfo.pieceHash(piece),
                           pieceStart: layout.pieceOffset(piece),
                           reads: reads.map { ($0, layout.files[$0.fileIndex].offset) },
                           store: store, checkpointer: checkpointer, verified: verified)
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        threadPool.runIfActive(eventLoop: eventLoop) {
            job.run(on: buffer)
        }.whenComplete { result in
            let foreman = bound.value
            switch result {
            case let .success(outcome):
                foreman.pieceChecked(piece, outcome: outcome, buffer: buffer, senders: senders, reads: reads)
            case let .failure(error):
                foreman.logger.error("piece job did not run", metadata: ["piece": "\(piece)", "error": "\(error)"])
                foreman.pieceChecked(piece, outcome: .storageFailed(.io(operation: "hash", path: "", piece: piece, errno: EIO), served: []),
                                     buffer: buffer, senders: senders, reads: reads)
            }
        }
    }

    private func pieceChecked(_ piece: Int, outcome: PieceOutcome, buffer: PieceBuffer, senders: Set<PeerKey>,
                              reads: [PieceJobRead]) {
        hashJobsInFlight -= 1
        bufferPool.give(buffer)
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
            for peer in peers.values where peer.handshakeDone {
                peer.send(.have(piece: UInt32(piece)))
            }
            readDesk.pieceVerified(piece)
            if picker.isComplete { torrentCompleted() }
        case .hashMismatch:
            picker.pieceFailed(piece)
            logger.warning("piece failed its hash check; fetching it again",
                           metadata: ["piece": "\(piece)", "peers": "\(senders.compactMap { peers[$0]?.address })"])
            for key in senders {
                guard let peer = peers[key] else { continue }
                peer.hashFailures += 1
                // A peer that alone sent two bad pieces, or took part in three, is lying or
                // broken (one bad piece may be bad luck; libtorrent also bans on a score).
                if peer.hashFailures >= (senders.count == 1 ? 2 : 3) {
                    misbehaved(peer, "sent data for \(peer.hashFailures) piece(s) that failed the hash check")
                }
            }
        case let .storageFailed(error, _):
            picker.pieceFailed(piece)
            storageFailed(error, piece: piece)
        }
        if stopped {
            if hashJobsInFlight == 0 { drainPromise?.succeed(()) }
            return
        }
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
    private func resumeAfterStorageFailure(now: NIODeadline) {
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
        publishStatus()
        for promise in completionPromises { promise.succeed(()) }
        completionPromises.removeAll()
        checkpoint(force: true, syncData: false)
    }

    // MARK: - Connections

    /// Adds addresses (from trackers or the command line) and connects to them if there is room.
    func addPeerAddresses(_ addresses: [(host: String, port: UInt16)]) {
        wake()
        for address in addresses { directory.add(host: address.host, port: address.port) }
        connectMore()
    }

    private var connecting = 0

    func connectMore() {
        // A complete torrent waits for leechers to come to us; it does not go looking.
        guard !stopped, !picker.isComplete else { return }
        while peers.count + connecting < configuration.maxPeers, let candidate = directory.nextCandidate(now: clock.now) {
            connect(to: candidate)
        }
    }

    /// Socket reads of up to 256 KiB: fewer syscalls than 64 KiB, and not a megabyte per peer
    /// held while a read is decoded.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 16 * 1024, initial: 64 * 1024, maximum: 256 * 1024)

    private func connect(to candidate: PeerDirectory.Candidate) {
        connecting += 1
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let key = makePeerKey()
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(3))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try PeerConnection.install(on: channel, foreman: bound.value, key: key, host: candidate.host,
                                               address: candidate.address, isOutbound: true)
                }
            }
        if connectFromHost != "0.0.0.0", let local = try? SocketAddress(ipAddress: connectFromHost, port: 0) {
            bootstrap = bootstrap.bind(to: local)
        }
        bootstrap.connect(host: candidate.host, port: Int(candidate.port)).whenComplete { result in
            let foreman = bound.value
            foreman.connecting -= 1
            if case let .failure(error) = result {
                foreman.directory.failed(candidate.address, now: foreman.clock.now)
                foreman.logger.debug("cannot connect to peer", metadata: ["peer": "\(candidate.address)", "error": "\(error)"])
                foreman.connectMore()
            }
        }
    }

    /// Accepts an incoming connection from `host` if there is room for it and the host is not banned.
    func acceptsIncoming(from host: String) -> Bool {
        guard !directory.isBanned(host: host) else {
            logger.trace("refused a connection from a banned host", metadata: ["host": "\(host)"])
            return false
        }
        return hasRoom(besides: 0)
    }

    /// Whether one more connection fits under `--max-peers` with `extra` others not yet counted
    /// (incoming connections the engine's router holds until they name a torrent).
    func hasRoom(besides extra: Int) -> Bool {
        !stopped && peers.count + connecting + handshaking.count + extra < configuration.maxPeers
    }

    /// Closes connections that never completed their handshake or went silent, and keeps quiet
    /// links alive.
    private func checkConnectionTimeouts(now: NIODeadline) {
        for peer in handshaking.values where now - peer.connectedAt > Self.handshakeTimeout {
            logger.debug("peer sent no handshake in time", metadata: ["peer": "\(peer.address)"])
            handshaking[peer.key] = nil
            peer.close()
        }
        for peer in peers.values {
            if now - peer.lastReceivedAt > Self.idleTimeout {
                logger.debug("peer silent for too long", metadata: ["peer": "\(peer.address)"])
                peer.close()
            } else if now - peer.lastSentAt > Self.keepAliveInterval {
                peer.send(.keepAlive)
                peer.flush()
            }
        }
    }

    // MARK: - Housekeeping

    private func scheduleTick(in delay: TimeAmount) {
        guard !stopped else { return }
        tickTask?.cancel()
        nextTickAt = clock.now + delay
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        tickTask = eventLoop.scheduleTask(in: delay) {
            bound.value.tickTask = nil
            bound.value.tick()
            bound.value.scheduleTick(in: bound.value.isIdle ? Self.idleTick : Self.activeTick)
        }
    }

    /// Something happened (a reader, a peer, an address): tick at the active pace again.
    func wake() {
        guard !stopped, nextTickAt > clock.now + Self.activeTick else { return }
        scheduleTick(in: Self.activeTick)
    }

    /// Nothing to look after: no peer, no connection being made, no read, no piece job, no
    /// eviction, and the rates have decayed to zero.
    private var isIdle: Bool {
        peers.isEmpty && handshaking.isEmpty && connecting == 0 && readDesk.waitingCount == 0 && hashJobsInFlight == 0
            && !cache.isEvicting && downloadMeter.bytesPerSecond == 0 && uploadMeter.bytesPerSecond == 0
            && checkpoints.isQuiet
    }

    /// Housekeeping, every `activeTick` (every `idleTick` while idle); tests call it after moving
    /// their clock.
    func tick() {
        tickCount &+= 1
        if tickCount % 4 == 0 { enforceCacheLimit() }
        let now = clock.now
        let seconds = Double((now - lastTick).nanoseconds) / 1e9
        lastTick = now
        scheduler.tick(seconds: seconds)
        rateLimits.refill(now: now)
        pieceMemory.report(picker)
        picker.maxPiecesInProgress = pieceMemory.allowedPieces
        uploader.tick(seconds: seconds)
        if tickCount % 40 == 0 { uploader.runChoker(rotateOptimistic: tickCount % 120 == 0) }
        if tickCount % 4 == 0 { checkConnectionTimeouts(now: now) }
        for peer in peers.values {
            peer.download.tick(seconds: seconds)
            peer.upload.tick(seconds: seconds)
            scheduler.tick(peer, now: now, forgetOldCancels: tickCount % 40 == 0)
        }
        if storagePause.pauseIsOver(now: now) {
            resumeAfterStorageFailure(now: now)
        }
        if picker.holdBackground, backgroundHeldUntil < now { picker.holdBackground = false }
        scheduler.fillAll()
        connectMore()
        if checkpoints.isDue(now: now) {
            _ = checkpoint(force: false)
        }
        publishStatus()
    }

    /// Saves the resume record (see `CheckpointSchedule.save`).
    @discardableResult
    func checkpoint(force: Bool, syncData: Bool = true) -> EventLoopFuture<Void> {
        checkpoints.save(force: force, syncData: syncData)
    }

    private func publishStatus() {
        statusBoard.publish(.snapshot(metainfo: metainfo, have: verified.snapshot, download: downloadMeter,
                                      upload: uploadMeter, peers: peers.count,
                                      cacheDiskBytes: statusBoard.current.cacheDiskBytes,
                                      pendingReads: readDesk.waitingCount, picker: picker))
    }
}

extension PiecePicker {
    var piecesWaitingForReadersIsZero: Bool { piecesWaitingForReaders == 0 }
}
