import Dispatch
import Foundation
import Synchronization

/// Turns SIGINT and SIGTERM into an awaitable event so commands can shut down cleanly.
///
/// `@unchecked Sendable`: the dispatch sources are created in `init` and only cancelled in
/// `stop()`; all mutable state sits behind the mutex.
final class SignalWatcher: @unchecked Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
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
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once a termination signal arrived.
    func wait() async {
        await withCheckedContinuation { continuation in
            let fired = state.withLock { state in
                if !state.fired { state.waiters.append(continuation) }
                return state.fired
            }
            if fired { continuation.resume() }
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
