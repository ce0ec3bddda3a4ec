/// Why an MSE handshake failed. Every case says what the peer sent (or did not) that broke it;
/// the connection is closed on any of them.
public enum MSEError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The peer's Diffie-Hellman public key is the wrong size or degenerate.
    case badPublicKey(String)
    /// The synchronisation marker (`HASH('req1', S)` for the receiver, the encrypted VC for the
    /// initiator) was not within the bytes the spec allows for padding.
    case synchronisationNotFound(marker: String, scanned: Int)
    /// The obfuscated info-hash names no torrent we serve.
    case unknownTorrent
    /// The decrypted verification constant was not 8 zero bytes.
    case badVerificationConstant
    /// The peer offers (or picked) no method our policy allows.
    case noCommonMethod(offered: UInt32, allowed: UInt32)
    /// The peer's answer selects not exactly one of the methods we offered.
    case badSelection(UInt32)
    /// A padding length above the spec's 512.
    case paddingTooLong(Int)
    /// The handshake was fed after it had ended (failed or done).
    case over

    public var description: String {
        switch self {
        case let .badPublicKey(why): "bad Diffie-Hellman public key (\(why))"
        case let .synchronisationNotFound(marker, scanned): "no \(marker) in the first \(scanned) bytes"
        case .unknownTorrent: "the obfuscated info-hash names no torrent we serve"
        case .badVerificationConstant: "the verification constant is not 8 zero bytes"
        case let .noCommonMethod(offered, allowed): "peer offers methods \(offered), we allow \(allowed)"
        case let .badSelection(selected): "peer selected methods \(selected)"
        case let .paddingTooLong(length): "padding of \(length) bytes (at most 512)"
        case .over: "the handshake is over"
        }
    }
}

/// The `crypto_provide` / `crypto_select` bits of MSE.
public struct MSECryptoMethods: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The stream continues unencrypted after the handshake.
    public static let plaintext = MSECryptoMethods(rawValue: 0x01)
    /// The stream continues under RC4.
    public static let rc4 = MSECryptoMethods(rawValue: 0x02)
}
