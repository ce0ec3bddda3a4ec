import Synchronization
import SwarmMSE

/// `--encryption`: whether peer connections use Message Stream Encryption (MSE/PE).
public enum PeerEncryptionPolicy: String, Sendable, CaseIterable {
    /// Dial encrypted, offering RC4 and plaintext (and pick RC4 when a peer offers it); redial in
    /// plaintext once if a peer drops the encrypted attempt; accept both.
    case prefer
    /// RC4 only, both ways: plaintext peers are neither dialled nor accepted.
    case require
    /// Plaintext only: no MSE handshake sent, an incoming one refused.
    case disable
}

/// The engine's encryption policy and what it learnt applying it: the addresses that dropped an
/// encrypted attempt and get plaintext from then on (`prefer` only).
///
/// Shared by every torrent's roster and metadata fetch of one engine. Invariant: at most
/// `memoryLimit` addresses are remembered (past that the memory starts over: forgetting only
/// costs one more encrypted attempt per address).
final class PeerEncryption: Sendable {
    static let memoryLimit = 4096

    let policy: PeerEncryptionPolicy
    private let plaintextPeers = Mutex<Set<String>>([])

    init(policy: PeerEncryptionPolicy) {
        self.policy = policy
    }

    /// The methods to offer when dialling `address`, or nil to dial in plaintext.
    func methodsToOffer(dialling address: String) -> MSECryptoMethods? {
        switch policy {
        case .disable: nil
        case .require: .rc4
        case .prefer: plaintextPeers.withLock { $0.contains(address) } ? nil : [.rc4, .plaintext]
        }
    }

    /// What an incoming MSE handshake may select (nil: refuse MSE).
    var methodsAccepted: MSECryptoMethods? {
        switch policy {
        case .disable: nil
        case .require: .rc4
        case .prefer: [.rc4, .plaintext]
        }
    }

    /// Whether an incoming plaintext BitTorrent handshake is welcome.
    var acceptsPlaintext: Bool { policy != .require }

    /// `address` dropped an encrypted attempt: dial it in plaintext from now on.
    func rememberPlaintext(_ address: String) {
        plaintextPeers.withLock { peers in
            if peers.count >= Self.memoryLimit { peers.removeAll() }
            peers.insert(address)
        }
    }
}
