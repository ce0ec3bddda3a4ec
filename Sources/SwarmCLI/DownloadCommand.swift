import ArgumentParser

// Placeholder until its owner lands the real command.
struct DownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "download")
    func run() throws { throw ExitCode(1) }
}
