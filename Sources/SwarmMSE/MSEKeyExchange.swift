import BigInt
import Foundation

/// MSE's Diffie-Hellman exchange: P is the spec's 768-bit prime, G = 2, private keys are 160
/// random bits, public keys and the shared secret S travel as 96 bytes, big-endian, zero-padded.
///
/// A peer's public key is input from the network: one outside 2...P-2 (which would make S 0, 1 or
/// ±1, known to anyone watching) is refused.
public struct MSEKeyExchange: MSEKeyAgreement {
    /// Bytes of a public key and of the shared secret.
    public static let keyLength = 96
    /// Bytes of a private key (160 bits).
    public static let privateKeyLength = 20

    static let prime = BigUInt(Data([
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
        0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
        0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
        0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
        0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
        0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x3A, 0x36, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x05, 0x63,
    ]))

    private let privateKey: BigUInt
    /// Our public key, G^private mod P, as sent (96 bytes).
    public let publicKey: [UInt8]

    /// A key pair from `privateKey` (any bytes; MSE uses 20 random ones).
    public init(privateKey: [UInt8]) {
        self.privateKey = BigUInt(Data(privateKey))
        publicKey = Self.encode(BigUInt(2).power(self.privateKey, modulus: Self.prime))
    }

    /// A key pair with a fresh random private key.
    public init<R: RandomNumberGenerator>(using random: inout R) {
        self.init(privateKey: (0..<Self.privateKeyLength).map { _ in UInt8.random(in: 0...255, using: &random) })
    }

    /// S = peer^private mod P (96 bytes), or an error if the peer's key is degenerate.
    public func sharedSecret(with peerKey: [UInt8]) throws(MSEError) -> [UInt8] {
        guard peerKey.count == Self.keyLength else { throw .badPublicKey("\(peerKey.count) bytes, not 96") }
        let peer = BigUInt(Data(peerKey))
        guard peer > 1, peer < Self.prime - 1 else { throw .badPublicKey("outside 2...P-2") }
        return Self.encode(peer.power(privateKey, modulus: Self.prime))
    }

    /// `value` (< P) as 96 big-endian bytes.
    private static func encode(_ value: BigUInt) -> [UInt8] {
        let bytes = [UInt8](value.serialize())
        return [UInt8](repeating: 0, count: keyLength - bytes.count) + bytes
    }
}

/// What the handshake needs of a key exchange: our public key, and the 96-byte secret from the
/// peer's. `MSEKeyExchange` is the real one; the fuzz check substitutes a cheap stand-in so
/// that thousands of runs exercise the state machine rather than modular exponentiation.
public protocol MSEKeyAgreement: Sendable {
    /// Our public key as sent (96 bytes).
    var publicKey: [UInt8] { get }
    /// The shared secret (96 bytes) from the peer's public key; throws for an unusable key.
    func sharedSecret(with peerKey: [UInt8]) throws(MSEError) -> [UInt8]
}
