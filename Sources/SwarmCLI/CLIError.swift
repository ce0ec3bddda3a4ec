import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure that ends a command. `run` it through `CLIError.reporting` and it becomes one
/// sentence on stderr (`swarmfs: …`) and the documented exit code.
///
/// Exit codes (README): 0 success, 1 runtime failure, 2 usage or bad input.
public enum CLIError: Error, Sendable, CustomStringConvertible {
    /// Wrong arguments or unusable input (a missing or malformed .torrent): exit code 2.
    case badInput(String)
    /// Something failed while working (I/O, network, a peer, the mount): exit code 1.
    case runtime(String)

    /// Exit code for success.
    public static let successCode: Int32 = 0
    /// Exit code for a runtime failure.
    public static let runtimeCode: Int32 = 1
    /// Exit code for usage errors and bad input.
    public static let badInputCode: Int32 = 2

    /// The sentence shown to the user.
    public var description: String {
        switch self {
        case let .badInput(message), let .runtime(message): message
        }
    }

    /// The process exit code for this failure.
    public var exitCode: Int32 {
        switch self {
        case .badInput: Self.badInputCode
        case .runtime: Self.runtimeCode
        }
    }

    /// Runs `body`; a thrown `CLIError` is printed to stderr and turned into its exit code.
    /// Any other error (except ArgumentParser's own) counts as a runtime failure.
    public static func reporting(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            throw exit(for: error)
        }
    }

    /// Async variant of `reporting(_:)`.
    public static func reporting(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            throw exit(for: error)
        }
    }

    /// Prints `error` (unless ArgumentParser handles it) and returns what to throw from `run()`.
    public static func exit(for error: any Error) -> any Error {
        switch error {
        case let failure as CLIError:
            printError(failure.description)
            return ExitCode(failure.exitCode)
        case is ExitCode, is ValidationError, is CleanExit:
            return error
        default:
            printError(String(describing: error))
            return ExitCode(runtimeCode)
        }
    }
}

extension CLIError {
    /// Runs the root command like `Command.main()`, but with the documented exit codes:
    /// ArgumentParser's usage failures (EX_USAGE, 64) exit with 2; help and `--version` exit 0.
    /// Use from the executable: `await CLIError.runMain(SwarmCommand.self)`.
    public static func runMain<Command: AsyncParsableCommand>(_ type: Command.Type,
                                                             arguments: [String]? = nil) async -> Never {
        do {
            var command = try type.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            terminateProcess(successCode)
        } catch {
            if type.exitCode(for: error) == .validationFailure {
                writeStandardError(type.fullMessage(for: error) + "\n")
                terminateProcess(badInputCode)
            }
            type.exit(withError: error)
        }
    }
}

/// Ends the process (named apart from `CLIError.exit(for:)`).
private func terminateProcess(_ code: Int32) -> Never {
    exit(code)
}

/// Writes `swarmfs: message` and a newline to stderr.
public func printError(_ message: String) {
    writeStandardError("swarmfs: " + message + "\n")
}

/// Writes `text` to stderr unbuffered (safe from any thread).
public func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { raw in
            write(STDERR_FILENO, raw.baseAddress.map { $0 + offset }, raw.count - offset)
        }
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += written
    }
    bytes.removeAll()
}
