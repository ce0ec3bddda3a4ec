import ArgumentParser

// Placeholder until its owner lands the real command.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status")
    func run() throws { throw ExitCode(1) }
}
