import ArgumentParser
import Foundation
import Logging
import Synchronization

/// `--log-level` and `--log-file`, shared by the commands that run the engine.
struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .warning

    @Option(name: .long, help: "Append log lines to this file instead of standard error.")
    var logFile: String?

    /// Sets up swift-log once for this process and returns the root logger.
    func bootstrap(label: String = "swarmfs") throws -> Logger {
        let fd: Int32
        if let logFile {
            fd = open(logFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw ValidationError("cannot open log file \(logFile): \(String(cString: strerror(errno)))")
            }
        } else {
            fd = STDERR_FILENO
        }
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, fd: fd)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// One line per event: time, level, message, metadata. Writes with a single `write(2)` so lines
/// from several threads never interleave.
struct LineLogHandler: LogHandler {
    let label: String
    let fd: Int32
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = Date().formatted(.iso8601.time(includingFractionalSeconds: true))
        let line = "\(time) \(event.level) \(event.message)\(fields.isEmpty ? "" : " " + fields)\n"
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            _ = Foundation.write(fd, buffer.baseAddress, buffer.count)
        }
    }
}
