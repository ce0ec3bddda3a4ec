import ArgumentParser

// Placeholder until its owner lands the real command.
struct SeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed")
    func run() throws { throw ExitCode(1) }
}
