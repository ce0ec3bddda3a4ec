import ArgumentParser

// Placeholder until its owner lands the real command.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify")
    func run() throws { throw ExitCode(1) }
}
