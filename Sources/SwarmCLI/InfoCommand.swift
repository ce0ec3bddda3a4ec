import ArgumentParser

// Placeholder until its owner lands the real command.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info")
    func run() throws { throw ExitCode(1) }
}
