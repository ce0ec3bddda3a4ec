import ArgumentParser

// Placeholder until its owner lands the real command.
struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create")
    func run() throws { throw ExitCode(1) }
}
