import ArgumentParser

// Placeholder until its owner lands the real command.
struct UnmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unmount")
    func run() throws { throw ExitCode(1) }
}
