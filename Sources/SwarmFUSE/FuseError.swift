/// Why a mount could not be set up.
public enum FuseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libfuse rejected the options (it printed which one to stderr).
    case badOptions([String])
    /// `fuse_session_mount` failed for the mountpoint.
    case mountFailed(mountpoint: String)
    /// The signal handlers could not be installed.
    case signalHandlers(errno: Int32)

    public var description: String {
        switch self {
        case let .badOptions(options): "libfuse rejected the mount options \(options.joined(separator: " "))"
        case let .mountFailed(mountpoint): "the kernel refused the FUSE mount on \(mountpoint) (run with -f to see libfuse's reason)"
        case let .signalHandlers(code): "cannot install signal handlers (errno \(code))"
        }
    }
}
