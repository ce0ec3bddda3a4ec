import Dispatch
import Foundation
import Synchronization

/// Turns SIGINT and SIGTERM into an awaitable event so commands can shut down cleanly.
///
/// `@unchecked Sendable`: the dispatch sources are created in `init` and only cancelled in
/// `stop()`; all mutable state sits behind the mutex.
final class SignalWatcher: @unchecked Sendable {
    private let state = Mutex<(fired: Bool, nextID: Int, waiters: [Int: CheckedContinuation<Void, Never>])>((false, 0, [:]))
    private var sources: [DispatchSourceSignal] = []
    private let stopped = Mutex(false)

    private init() {}

    static func watchTermination() -> SignalWatcher {
        let watcher = SignalWatcher()
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { watcher.fire() }
            source.resume()
            watcher.sources.append(source)
        }
        return watcher
    }

    private func fire() {
        let waiters = state.withLock { state in
            state.fired = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once a termination signal arrived, or when the calling task is cancelled.
    func wait() async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.fired || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    /// Restores default signal handling (a second Ctrl+C then ends the process at once).
    func stop() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
