import ArgumentParser

/// The `swarmfs` command line (see README.md and docs/cli.md).
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
public struct SwarmCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "swarmfs",
        abstract: "A BitTorrent client that mounts torrents as a read-only filesystem.",
        version: SwarmVersion.string,
        subcommands: [
            InfoCommand.self, CreateCommand.self, DownloadCommand.self,
            MountCommand.self, UnmountCommand.self, StatusCommand.self, ServeCommand.self,
            SeedCommand.self, VerifyCommand.self, CacheCommand.self,
        ]
    )
}

/// The version printed by `--version` and sent in the peer id / user agent.
public enum SwarmVersion {
    public static let string = "0.1.0"
}
