import ArgumentParser
import SwarmSession

/// `--no-utp` and `--no-tcp`: which transports peers are dialled and accepted over. Both are on by
/// default; peers are dialled over uTP first and over TCP when uTP gets no answer.
struct TransportOptions: ParsableArguments {
    @Flag(name: .long, help: "Do not use uTP (BEP 29) for peers: TCP only.")
    var noUtp = false

    @Flag(name: .long, help: "Do not use TCP for peers: uTP only (for tests).")
    var noTcp = false

    func validate() throws {
        guard !(noUtp && noTcp) else { throw ValidationError("--no-utp and --no-tcp leave no way to reach a peer") }
    }

    func apply(to engine: inout EngineConfiguration) {
        engine.utp = !noUtp
        engine.tcp = !noTcp
    }

    /// The same options on a command line (for the mount daemon).
    var arguments: [String] {
        (noUtp ? ["--no-utp"] : []) + (noTcp ? ["--no-tcp"] : [])
    }
}
