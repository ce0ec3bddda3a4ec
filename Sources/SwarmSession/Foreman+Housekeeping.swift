import NIOCore

/// The Foreman's housekeeping: a tick every `activeTick` while anything happens, every
/// `idleTick` while nothing does (a library of a thousand idle torrents must not poll 4,000
/// times a second); rates, token buckets, memory allowance, choking, deadlines, stalls, the
/// storage pause, background hold, checkpoints and the published status move on it.
///
/// Invariant: while the Foreman runs exactly one tick is planned (`tickTask`, due at
/// `nextTickAt`); none after it stopped.
extension Foreman {
    static let activeTick = TimeAmount.milliseconds(250)
    static let idleTick = TimeAmount.seconds(5)

    /// The next tick in `delay` (the one planned is dropped).
    func scheduleTick(in delay: TimeAmount) {
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
        roster.isEmpty && readDesk.waitingCount == 0 && hashJobsInFlight == 0
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
        if tickCount % 4 == 0 {
            roster.checkTimeouts(now: now)
            exchangePeers(now: now)
        }
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

    func publishStatus() {
        statusBoard.publish(.snapshot(metainfo: metainfo, have: verified.snapshot, download: downloadMeter,
                                      upload: uploadMeter, peers: peers.count,
                                      cacheDiskBytes: statusBoard.current.cacheDiskBytes,
                                      pendingReads: readDesk.waitingCount, picker: picker))
    }
}
