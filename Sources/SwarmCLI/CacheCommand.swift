import ArgumentParser

// Placeholder until its owner lands the real command.
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cache")
    func run() throws { throw ExitCode(1) }
}
