import ArgumentParser
import SwarmSession

extension PeerEncryptionPolicy: ExpressibleByArgument {}

/// `--encryption prefer|require|disable`: Message Stream Encryption (MSE/PE) for peer
/// connections, in both directions.
struct EncryptionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Peer connection encryption (MSE/PE): prefer (dial encrypted, fall back to plaintext for peers that " +
            "refuse it, accept both), require (RC4-encrypted peers only, both ways) or disable (plaintext only).",
        valueName: "prefer|require|disable"))
    var encryption: PeerEncryptionPolicy = .prefer

    func apply(to engine: inout EngineConfiguration) {
        engine.encryption = encryption
    }

    /// The same option on a command line (for the mount daemon).
    var arguments: [String] {
        encryption == .prefer ? [] : ["--encryption", encryption.rawValue]
    }
}
