#if canImport(Glibc)
import Glibc
#endif

/// Starting and waiting for helper processes without `fork()` (which is unsafe in a
/// multithreaded Swift process): `posix_spawn` only.
public enum ProcessTools {
    /// Spawns `arguments[0]` (looked up in PATH when it has no "/") with stdin/stdout/stderr
    /// from `/dev/null` unless inherited. With `newSession` the child runs in its own session
    /// (setsid) with default signal dispositions. `keepOpen` lists descriptors the child keeps
    /// (all others opened by us are close-on-exec or closed by the caller); `closeInChild`
    /// descriptors are closed in the child. Returns the pid, or the errno.
    public static func spawn(_ arguments: [String], newSession: Bool = false, stdio: StdioPolicy = .inherit,
                             closeInChild: [Int32] = []) -> Result<pid_t, SpawnError> {
        guard let program = arguments.first else { return .failure(SpawnError(program: "", errno: EINVAL)) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        for fd in closeInChild { posix_spawn_file_actions_addclose(&actions, fd) }
        switch stdio {
        case .inherit: break
        case .devNull:
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        case let .logFile(path):
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newSession { flags |= posixSpawnSetsid }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        cArguments.append(nil)
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let status = program.contains("/")
            ? posix_spawn(&pid, program, &actions, &attributes, cArguments, environ)
            : posix_spawnp(&pid, program, &actions, &attributes, cArguments, environ)
        guard status == 0 else { return .failure(SpawnError(program: program, errno: status)) }
        return .success(pid)
    }

    /// Runs a command to completion; returns its exit status (128+N if killed by signal N),
    /// or nil when it could not be started.
    public static func run(_ arguments: [String], stdio: StdioPolicy = .devNull) -> Int32? {
        guard case let .success(pid) = spawn(arguments, stdio: stdio) else { return nil }
        return wait(pid)
    }

    /// Waits for child `pid`; its exit status, or 128+signal.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Whether process `pid` exists (and is not a zombie we could reap).
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        // A zombie still answers kill(0); its /proc state says Z.
        guard let stat = readFile("/proc/\(pid)/stat"),
              let close = stat.lastIndex(of: ")") else { return true }
        let after = stat[stat.index(after: close)...].drop(while: { $0 == " " })
        return after.first != "Z"
    }

    /// Waits up to `milliseconds` for `pid` to exit; whether it did.
    public static func waitForExit(_ pid: pid_t, milliseconds: Int) -> Bool {
        var waited = 0
        while waited < milliseconds {
            if !isAlive(pid) { return true }
            usleep(10_000)
            waited += 10
        }
        return !isAlive(pid)
    }

    /// A small text file's contents (for /proc), or nil.
    public static func readFile(_ path: String, limit: Int = 1 << 20) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < limit {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// glibc's POSIX_SPAWN_SETSID (2.26+), which Swift does not import (it needs _GNU_SOURCE).
private let posixSpawnSetsid: Int32 = 0x80

/// Where a spawned process's standard streams go.
public enum StdioPolicy: Sendable, Equatable {
    case inherit
    case devNull
    /// stdin from /dev/null, stdout and stderr appended to the file.
    case logFile(String)
}

/// A process could not be started.
public struct SpawnError: Error, Sendable, CustomStringConvertible {
    public let program: String
    public let errno: Int32
    public var description: String { "cannot start \(program): \(String(cString: strerror(errno)))" }
}
