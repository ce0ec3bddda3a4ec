import NIOCore
import SwarmStorage
import Testing
@testable import SwarmSession

/// The storage-failure episode as a state machine, driven by a manual clock.
struct StorageFailurePauseTests {
    /// Time that moves only when a test says so.
    struct ManualClock {
        private(set) var now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        mutating func advance(_ amount: TimeAmount) { now = now + amount }
    }

    let full = StorageError.diskFull(path: "/cache/f", piece: 3)
    let broken = StorageError.io(operation: "write", path: "/cache/f", piece: 4, errno: 5)

    @Test func aWriteThatSucceedsDuringThePauseDoesNotEndTheEpisode() {
        // The CI flake: a piece already in its job when the disk filled was stored after the
        // first failure; that was taken for recovery, and the next failure logged a second error.
        var clock = ManualClock()
        var pause = StorageFailurePause()
        let result1 = pause.writeFailed(full, now: clock.now)
        #expect(result1 == .episodeStarted)
        clock.advance(.milliseconds(10))
        let result2 = pause.writeSucceeded()
        #expect(result2 == false)
        clock.advance(.milliseconds(10))
        let result3 = pause.writeFailed(full, now: clock.now)
        #expect(result3 == .stillFailing)
        #expect(pause.isPaused)
    }

    @Test func aFailureDuringThePauseExtendsIt() {
        var clock = ManualClock()
        var pause = StorageFailurePause()
        _ = pause.writeFailed(broken, now: clock.now)
        clock.advance(.seconds(4))
        _ = pause.writeFailed(broken, now: clock.now)
        clock.advance(.seconds(2))
        #expect(pause.isPaused)
        #expect(!pause.pauseIsOver(now: clock.now))
        clock.advance(.seconds(3))
        #expect(pause.pauseIsOver(now: clock.now))
        // Still paused until the Foreman's tick ends the pause: a piece fetched and stored in
        // between would not count as the trial's success (the second CI failure mode).
        #expect(pause.isPaused)
    }

    @Test func recoveryIsDeclaredOnlyByAWriteAfterThePause() {
        var clock = ManualClock()
        var pause = StorageFailurePause()
        _ = pause.writeFailed(broken, now: clock.now)
        clock.advance(StorageFailurePause.pauseLength)
        let result4 = pause.pauseElapsed(now: clock.now, freeBytes: nil, neededBytes: 0)
        #expect(result4)
        #expect(pause.phase == .trial)
        #expect(!pause.isPaused)
        let result5 = pause.writeSucceeded()
        #expect(result5)
        #expect(pause.phase == .healthy)
        #expect(pause.trouble == nil)
        let result6 = pause.writeSucceeded()
        #expect(result6 == false)
    }

    @Test func aFailureDuringTheTrialPausesAgainWithoutANewEpisode() {
        var clock = ManualClock()
        var pause = StorageFailurePause()
        let result7 = pause.writeFailed(broken, now: clock.now)
        #expect(result7 == .episodeStarted)
        clock.advance(StorageFailurePause.pauseLength)
        let result8 = pause.pauseElapsed(now: clock.now, freeBytes: nil, neededBytes: 0)
        #expect(result8)
        let result9 = pause.writeFailed(broken, now: clock.now)
        #expect(result9 == .stillFailing)
        #expect(pause.phase == .paused(until: clock.now + StorageFailurePause.pauseLength))
        clock.advance(StorageFailurePause.pauseLength)
        let result10 = pause.pauseElapsed(now: clock.now, freeBytes: nil, neededBytes: 0)
        #expect(result10)
        let result11 = pause.writeSucceeded()
        #expect(result11)
        // A later failure is a new episode, worth a new error line.
        let result12 = pause.writeFailed(broken, now: clock.now)
        #expect(result12 == .episodeStarted)
    }

    @Test func aFullDiskStaysPausedUntilSpaceReturns() {
        var clock = ManualClock()
        var pause = StorageFailurePause()
        _ = pause.writeFailed(full, now: clock.now)
        clock.advance(StorageFailurePause.pauseLength)
        let result13 = pause.pauseElapsed(now: clock.now, freeBytes: 1000, neededBytes: 4096)
        #expect(!result13)
        #expect(pause.phase == .paused(until: clock.now + StorageFailurePause.diskFullRecheck))
        clock.advance(.milliseconds(500))
        let result14 = pause.pauseElapsed(now: clock.now, freeBytes: 1 << 30, neededBytes: 4096)
        #expect(!result14)
        clock.advance(.milliseconds(500))
        let result15 = pause.pauseElapsed(now: clock.now, freeBytes: 1 << 30, neededBytes: 4096)
        #expect(result15)
        #expect(pause.phase == .trial)
    }
}
