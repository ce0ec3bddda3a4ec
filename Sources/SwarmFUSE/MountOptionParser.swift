/// `-o` options as mount(8), fstab and `mount.fuse.swarmfs` give them, split into swarmfs's own
/// settings (e.g. `cache_dir=/var/cache/swarmfs`) and what goes on to libfuse and the kernel.
public struct SwarmMountOptions: Sendable, Equatable {
    public var cacheDirectory: String?
    public var download: String?
    public var peers: [String] = []
    public var cacheSize: String?
    public var readTimeout: String?
    public var listenPort: String?
    public var maxPeers: String?
    public var logFile: String?
    public var logLevel: String?
    public var foreground = false
    /// `peer_encryption=prefer|require|disable` (not `encryption=`: libmount takes that one for
    /// its loop devices and never hands it on), `http=[HOST:]PORT`, `listen_host=ADDRESS`
    /// (checked by the command, which knows their forms).
    public var encryption: String?
    public var http: String?
    public var listenHost: String?
    /// The switches that turn something off, by their `-o` name (`no_dht`, `no_utp`, ...:
    /// `switches`), each the same as the command's `--no-...` flag.
    public var disabled: Set<String> = []
    /// Options for libfuse/the kernel (e.g. "allow_other", "max_read=131072").
    public var fuseOptions: [String] = []

    public init() {}

    /// Options that only mean something to mount(8) or systemd and must not reach libfuse
    /// (which rejects what it does not know). `ro` is dropped because swarmfs always mounts
    /// read-only; `rw` is dropped because it cannot be honoured.
    static let mountOnly: Set<String> = [
        "rw", "ro", "defaults", "auto", "noauto", "user", "users", "nouser", "owner", "group",
        "_netdev", "nofail", "loop", "sync", "async", "dev", "suid", "exec", "silent", "nonempty",
    ]

    /// The `--no-...` flags that may be given as `-o no_...` (an fstab line has no other way).
    public static let switches: Set<String> = [
        "no_trackers", "no_web_seeds", "no_upload", "no_lsd", "no_dht", "no_utp", "no_tcp",
    ]

    /// Parses `-o` values, each a comma-separated list. `peer=` may repeat; later values of
    /// the other keys win.
    public static func parse(_ values: [String]) throws(MountOptionError) -> SwarmMountOptions {
        var result = SwarmMountOptions()
        for value in values {
            for item in splitList(value) where !item.isEmpty {
                let key: String
                let argument: String?
                if let equals = item.firstIndex(of: "=") {
                    key = String(item[..<equals])
                    argument = String(item[item.index(after: equals)...])
                } else {
                    key = item
                    argument = nil
                }
                let normalized = key.replacingDashes()
                func required() throws(MountOptionError) -> String {
                    guard let argument, !argument.isEmpty else { throw .missingValue(key) }
                    return argument
                }
                switch normalized {
                case "cache_dir": result.cacheDirectory = try required()
                case "download": result.download = try required()
                case "peer": result.peers.append(try required())
                case "cache_size": result.cacheSize = try required()
                case "read_timeout": result.readTimeout = try required()
                case "listen_port": result.listenPort = try required()
                case "max_peers": result.maxPeers = try required()
                case "log_file": result.logFile = try required()
                case "log_level": result.logLevel = try required()
                case "foreground": result.foreground = true
                case "peer_encryption": result.encryption = try required()
                case "http": result.http = try required()
                case "listen_host": result.listenHost = try required()
                case _ where switches.contains(normalized):
                    guard argument == nil else { throw .unexpectedValue(key) }
                    result.disabled.insert(normalized)
                default:
                    if mountOnly.contains(key) || key.hasPrefix("x-") || key == "comment" { continue }
                    result.fuseOptions.append(item)
                }
            }
        }
        return result
    }

    /// Splits a comma-separated option list; "\," is a literal comma.
    static func splitList(_ text: String) -> [String] {
        var items: [String] = []
        var current = ""
        var escaped = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "," {
                items.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        items.append(current)
        return items
    }
}

/// A malformed `-o` option.
public enum MountOptionError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingValue(String)
    case unexpectedValue(String)

    public var description: String {
        switch self {
        case let .missingValue(key): "mount option '\(key)' needs a value (\(key)=...)"
        case let .unexpectedValue(key): "mount option '\(key)' takes no value"
        }
    }
}

extension String {
    /// "cache-dir" and "cache_dir" mean the same.
    fileprivate func replacingDashes() -> String {
        String(map { $0 == "-" ? "_" : $0 })
    }
}
