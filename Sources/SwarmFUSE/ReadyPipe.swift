#if canImport(Glibc)
import Glibc
#endif

/// The pipe between `swarmfs mount` and the daemon it starts: the daemon writes one line —
/// "mounted" or "error CODE MESSAGE" — and the parent exits accordingly.
public enum ReadyPipe {
    /// What the daemon reported.
    public enum Report: Sendable, Equatable {
        case mounted
        case failed(exitCode: Int32, message: String)
        /// The pipe closed without a report (the daemon died).
        case vanished
    }

    /// Writes "mounted" and closes `fd`.
    public static func reportMounted(_ fd: Int32) {
        send("mounted\n", to: fd)
    }

    /// Writes the failure and closes `fd`.
    public static func reportFailure(_ fd: Int32, exitCode: Int32, message: String) {
        let oneLine = String(message.map { $0 == "\n" ? " " : $0 })
        send("error \(exitCode) \(oneLine)\n", to: fd)
    }

    private static func send(_ line: String, to fd: Int32) {
        let bytes = Array(line.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            written += count
        }
        close(fd)
    }

    /// Reads the daemon's report from `fd` (until a newline or EOF) and closes it.
    public static func awaitReport(_ fd: Int32) -> Report {
        defer { close(fd) }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count < 4096 {
            let count = read(fd, &byte, 1)
            if count < 0, errno == EINTR { continue }
            if count <= 0 || byte == UInt8(ascii: "\n") { break }
            bytes.append(byte)
        }
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    /// Parses one report line.
    public static func parse(_ line: String) -> Report {
        if line == "mounted" { return .mounted }
        guard line.hasPrefix("error ") else { return .vanished }
        let rest = line.dropFirst("error ".count)
        let parts = rest.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        guard let code = parts.first.flatMap({ Int32($0) }) else {
            return .failed(exitCode: 1, message: String(rest))
        }
        return .failed(exitCode: code, message: parts.count > 1 ? String(parts[1]) : "mount failed")
    }
}
