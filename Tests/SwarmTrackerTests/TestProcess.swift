import Foundation

/// A child process a test starts and must stop by PID (SIGTERM, then SIGKILL), also on failure.
final class TestProcess: @unchecked Sendable {
    let process: Process
    let logPath: String

    init(executable: String, arguments: [String], logPath: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// SIGTERM the PID, wait up to `grace`, then SIGKILL it and reap it.
    func stop(grace: Duration = .seconds(3)) {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// Ports and loopback helpers.
enum Loopback {
    /// A port that was free a moment ago on `host` (bind to 0, read, close). `udp` picks a UDP one.
    static func freePort(host: String = "127.0.0.1", udp: Bool = false) throws -> Int {
        let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        inet_pton(AF_INET, host, &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A loopback address no test listens on: fake servers bind 127.0.0.1, so a "dead" tracker here
    /// can never collide with a port another test's server was just given.
    static let deadHost = "127.0.0.253"

    /// A closed TCP or UDP port on `deadHost` (connections are refused at once).
    static func deadPort(udp: Bool = false) throws -> Int {
        try freePort(host: deadHost, udp: udp)
    }

    /// Waits until a TCP connect to host:port succeeds, sleeping without blocking a thread.
    static func waitForTCP(host: String, port: Int, timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            inet_pton(AF_INET, host, &address.sin_addr)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if connected == 0 { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

/// Debian's opentracker on loopback, whitelisting the given info-hashes. It refuses to run as root,
/// so it drops to `_opentracker` and chroots into its own temporary directory.
final class OpenTracker: @unchecked Sendable {
    static let executable = "/usr/bin/opentracker"
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    let host = "127.0.0.1"
    let port: Int
    let directory: String
    private let process: TestProcess

    /// Starts opentracker and returns once it accepts connections.
    static func start(whitelistHex: [String]) async throws -> OpenTracker {
        let directory = NSTemporaryDirectory() + "swarmfs-opentracker-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        try (whitelistHex.joined(separator: "\n") + "\n").write(toFile: directory + "/whitelist.txt", atomically: true, encoding: .utf8)
        try "access.whitelist whitelist.txt\n".write(toFile: directory + "/opentracker.conf", atomically: true, encoding: .utf8)
        for _ in 0..<5 {
            let candidate = try Loopback.freePort()
            let started = try TestProcess(
                executable: executable,
                arguments: ["-f", directory + "/opentracker.conf", "-i", "127.0.0.1", "-p", String(candidate), "-P", String(candidate),
                            "-u", "_opentracker", "-d", directory],
                logPath: directory + "/opentracker.log")
            if await Loopback.waitForTCP(host: "127.0.0.1", port: candidate, timeout: .seconds(5)) {
                return OpenTracker(port: candidate, directory: directory, process: started)
            }
            started.stop()
        }
        try? FileManager.default.removeItem(atPath: directory)
        throw POSIXError(.EADDRINUSE)
    }

    private init(port: Int, directory: String, process: TestProcess) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    var httpURL: String { "http://\(host):\(port)/announce" }
    var udpURL: String { "udp://\(host):\(port)/announce" }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
