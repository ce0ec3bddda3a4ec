import SwarmCLI

/// The `swarmfs` executable: everything lives in SwarmCLI.
@main
struct Entry {
    static func main() async {
        await SwarmCommand.main(nil as [String]?)
    }
}
