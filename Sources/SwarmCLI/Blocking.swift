import Dispatch
import Logging
import SwarmFUSE
import SwarmSession
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the mount daemons share: running async work from their synchronous main thread, and
/// serving a FUSE mount until it ends.
enum Blocking {
    /// Runs `work` from this synchronous code and waits for it (at most `limit`); nil if it did not finish.
    static func wait<T: Sendable>(within limit: DispatchTimeInterval = .never,
                                  _ work: @escaping @Sendable () async -> T) -> T? {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            box.set(await work())
            done.signal()
        }
        guard done.wait(timeout: limit == .never ? .distantFuture : .now() + limit) == .success else { return nil }
        return box.value
    }

    /// Starts an engine for a mount daemon; a failure (a port that cannot be opened) is a mount
    /// failure with exit code 1, before anything is mounted.
    static func startEngine(_ configuration: EngineConfiguration, logger: Logger) throws -> SwarmEngine {
        let outcome = wait { () async -> Result<SwarmEngine, SessionError> in
            do throws(SessionError) {
                return .success(try await SwarmEngine.start(configuration: configuration, logger: logger))
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case let .success(engine)?: return engine
        case let .failure(error)?: throw MountFailure(exitCode: 1, message: error.description)
        case nil: throw MountFailure(exitCode: 1, message: "the engine did not start")
        }
    }

    /// Serves `mount` until it is unmounted or a signal ends it; returns the signal. Once the
    /// kernel answers, the launcher hears "mounted" on `readyFd`; if mounting fails it hears why,
    /// and the loop ends (nothing is left mounted).
    static func runMounted(_ mount: FuseMount, readyFd: Int32?, logger: Logger,
                           message: Logger.Message) throws(FuseError) -> Int32 {
        let mountpoint = mount.options.mountpoint
        return try mount.run { result in
            switch result {
            case let .success(device):
                logger.info(message, metadata: ["mountpoint": "\(mountpoint)", "device": "\(device)"])
                if let readyFd { ReadyPipe.reportMounted(readyFd) }
            case let .failure(error):
                if let readyFd { ReadyPipe.reportFailure(readyFd, exitCode: 1, message: error.description) }
                // Leave nothing mounted: end our own loop.
                kill(getpid(), SIGTERM)
            }
        }
    }
}

/// A value handed from a task to the thread waiting for it.
private final class ResultBox<T: Sendable>: Sendable {
    private let stored = Mutex<T?>(nil)
    func set(_ value: T) { stored.withLock { $0 = value } }
    var value: T? { stored.withLock { $0 } }
}
