#if canImport(Glibc)
import Glibc
#endif

/// Starts the mount daemon as a fresh process — never `fork()` of a running Swift process —
/// in a new session, and waits for its report on a pipe.
public enum DaemonLauncher {
    /// What became of the daemon.
    public enum Outcome: Sendable, Equatable {
        /// It mounted and keeps running (pid).
        case mounted(pid_t)
        /// It reported a failure and exited (or is exiting).
        case failed(exitCode: Int32, message: String)
    }

    /// The running executable's path (for re-executing ourselves).
    public static func currentExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs `executable` with `arguments(writeFd)` (the arguments must pass the descriptor on,
    /// e.g. `--ready-fd N`), stdin from /dev/null and output to `logFile` or /dev/null, then
    /// waits for its one-line report.
    public static func launch(executable: String, logFile: String?,
                              arguments: (Int32) -> [String]) -> Outcome {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            return .failed(exitCode: 1, message: "cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        let stdio: StdioPolicy = logFile.map { .logFile($0) } ?? .devNull
        let spawned = ProcessTools.spawn([executable] + arguments(writeEnd), newSession: true,
                                         stdio: stdio, closeInChild: [readEnd])
        close(writeEnd)
        let pid: pid_t
        switch spawned {
        case let .success(child): pid = child
        case let .failure(error):
            close(readEnd)
            return .failed(exitCode: 1, message: error.description)
        }
        switch ReadyPipe.awaitReport(readEnd) {
        case .mounted:
            return .mounted(pid)
        case let .failed(exitCode, message):
            _ = ProcessTools.waitForExit(pid, milliseconds: 5000)
            return .failed(exitCode: exitCode, message: message)
        case .vanished:
            let status = ProcessTools.wait(pid)
            return .failed(exitCode: 1, message: "the mount daemon exited (status \(status)) before mounting")
        }
    }
}
