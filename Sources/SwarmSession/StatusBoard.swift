import NIOCore
import SwarmContent
import Synchronization

/// The latest `SessionStatus`, published by the Foreman a few times a second and read from any
/// thread (the filesystem's status attributes, the progress line).
///
/// Reading it is O(1): `getfattr -R` on a mount reads an attribute of every file, and each read
/// used to stat every cache file for `cacheDiskBytes`. That figure is now measured at most once
/// per `diskUsageInterval`, by the one reader that claims the refresh.
final class StatusBoard: Sendable {
    /// How stale `cacheDiskBytes` may be.
    static let diskUsageInterval = TimeAmount.seconds(1)

    private struct State {
        var status: SessionStatus
        var diskUsageMeasuredAt: NIODeadline?
        var measuring = false
    }

    private let state: Mutex<State>

    init(_ initial: SessionStatus) {
        state = Mutex(State(status: initial))
    }

    var current: SessionStatus { state.withLock { $0.status } }

    func publish(_ new: SessionStatus) {
        state.withLock { state in
            // The Foreman does not measure the disk: keep the last measurement.
            let disk = state.status.cacheDiskBytes
            state.status = new
            state.status.cacheDiskBytes = disk
        }
    }

    /// The current status, with `cacheDiskBytes` measured by `measure` first if the last
    /// measurement is older than `diskUsageInterval` and nobody else is measuring right now.
    func current(now: NIODeadline, measuringDiskWith measure: () -> Int64) -> SessionStatus {
        let due = state.withLock { state -> Bool in
            guard !state.measuring else { return false }
            if let last = state.diskUsageMeasuredAt, now - last < Self.diskUsageInterval { return false }
            state.measuring = true
            return true
        }
        if due {
            let bytes = measure()
            state.withLock { state in
                state.status.cacheDiskBytes = bytes
                state.diskUsageMeasuredAt = now
                state.measuring = false
            }
        }
        return current
    }
}
