import SwarmCLI

/// The `swarmfs` executable: everything lives in SwarmCLI.
@main
struct Entry {
    static func main() async {
        await CLIError.runMain(SwarmCommand.self)
    }
}
