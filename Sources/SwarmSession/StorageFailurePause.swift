import NIOCore
import SwarmStorage

/// Whether new pieces may be fetched and stored after a storage error (a full disk, an I/O
/// error), and which moments of an episode deserve a log line.
///
/// Invariants: in `.healthy` there is no `trouble`; in `.paused` and `.trial` `trouble` is the
/// latest error of the episode. An episode starts (and is reported) only from `.healthy`, and
/// ends (and is reported) only when a write succeeds in `.trial`, after the pause. Writes that
/// finish during the pause were started before it and prove nothing: a success is ignored, a
/// failure extends the pause. A failure in `.trial` pauses again without starting a new episode.
/// Time comes in as arguments, so tests drive it with a manual clock.
struct StorageFailurePause {
    enum Phase: Equatable {
        case healthy
        /// No new pieces are fetched before `until`; reads of missing data fail meanwhile.
        case paused(until: NIODeadline)
        /// The pause is over and pieces are fetched again; the next stored piece ends the episode.
        case trial
    }

    enum FailureReport: Equatable {
        /// The first failure of an episode: worth an error line.
        case episodeStarted
        /// The episode goes on (a retry failed, or a write started before the pause).
        case stillFailing
    }

    /// How long fetching pauses after a failed write.
    static let pauseLength = TimeAmount.seconds(5)
    /// How often a full disk is checked for space once the pause is over.
    static let diskFullRecheck = TimeAmount.seconds(1)

    private(set) var phase: Phase = .healthy
    private(set) var trouble: StorageError?

    /// Whether fetching (and reads of missing data) are paused. A pause lasts until
    /// `pauseElapsed` ends it, not merely until its time has passed: pieces fetched in between
    /// would be stored while still `.paused`, and their success would not end the episode.
    var isPaused: Bool {
        if case .paused = phase { return true }
        return false
    }

    /// Whether the pause has run out and `pauseElapsed` should decide what comes next.
    func pauseIsOver(now: NIODeadline) -> Bool {
        if case let .paused(until) = phase { return until <= now }
        return false
    }

    /// A piece could not be written.
    mutating func writeFailed(_ error: StorageError, now: NIODeadline) -> FailureReport {
        let report: FailureReport = phase == .healthy ? .episodeStarted : .stillFailing
        let until = now + Self.pauseLength
        if case let .paused(current) = phase, current > until {
            phase = .paused(until: current)
        } else {
            phase = .paused(until: until)
        }
        trouble = error
        return report
    }

    /// A piece was written; true when this ends the episode (worth an info line).
    mutating func writeSucceeded() -> Bool {
        guard phase == .trial else { return false }
        phase = .healthy
        trouble = nil
        return true
    }

    /// The pause is over: a full disk stays paused (rechecked every second) until `freeBytes`
    /// reaches `neededBytes`; any other error is simply retried. True when the trial begins.
    mutating func pauseElapsed(now: NIODeadline, freeBytes: Int64?, neededBytes: Int64) -> Bool {
        guard pauseIsOver(now: now) else { return false }
        if case .diskFull = trouble, let freeBytes, freeBytes < neededBytes {
            phase = .paused(until: now + Self.diskFullRecheck)
            return false
        }
        phase = .trial
        return true
    }
}
