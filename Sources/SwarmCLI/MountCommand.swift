import ArgumentParser

// Placeholder until its owner lands the real command.
struct MountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mount")
    func run() throws { throw ExitCode(1) }
}
