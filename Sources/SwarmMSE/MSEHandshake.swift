import Crypto
import SwarmMetainfo

/// The MSE/PE handshake (Vuze's "Message Stream Encryption") as a byte-in/byte-out state
/// machine, for either role:
///
///     1 A->B: Ya, PadA
///     2 B->A: Yb, PadB
///     3 A->B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
///             ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
///     4 B->A: ENCRYPT(VC, crypto_select, len(PadD), PadD), then the payload stream
///
/// SKEY is the info-hash; A encrypts with RC4(HASH('keyA', S, SKEY)) and B with
/// RC4(HASH('keyB', S, SKEY)), each keystream's first 1024 bytes discarded. As initiator we send
/// our BitTorrent handshake as IA when given one (the peer answers with its own in message 4's
/// flight: one round trip less than sending it after the handshake); as receiver we take the
/// peer's IA as the payload's first bytes.
///
/// Everything the peer sends is hostile: the receiver looks for `HASH('req1', S)` in at most
/// 532 bytes after Ya and the initiator for the encrypted VC in at most 520 bytes after Yb
/// (616 from the start); paddings over 512 bytes fail; the buffer holds at most what one phase
/// needs plus one `feed`. Invariant: `pending` holds the peer's bytes not yet consumed, still
/// encrypted where they are encrypted (they are decrypted as a phase consumes them, so that
/// bytes after the handshake stay as the selected method needs them).
public struct MSEHandshake {
    /// Longest PadA/PadB/PadC/PadD the spec allows.
    public static let maxPadding = 512
    /// Where the receiver gives up looking for `HASH('req1', S)` (bytes after Ya).
    public static let requestScanLimit = maxPadding + 20
    /// Where the initiator gives up looking for the encrypted VC (bytes after Yb).
    public static let verificationScanLimit = maxPadding + 8

    /// What the handshake agreed on, and what comes next.
    public struct Outcome: Sendable {
        /// `.rc4` or `.plaintext`: how the rest of the stream travels.
        public let method: MSECryptoMethods
        /// The torrent the connection is for (the receiver found it from the obfuscated hash).
        public let infoHash: InfoHash
        /// The cipher for everything we send from now on (nil: plaintext).
        public var encryptor: RC4?
        /// The cipher for everything the peer sends from now on (nil: plaintext).
        public var decryptor: RC4?
        /// The peer's bytes after the handshake, decrypted: its IA (if it sent one) and whatever
        /// followed in the same input.
        public let payload: [UInt8]
    }

    /// What one `feed` produced: bytes to send the peer, and the outcome once the handshake is done.
    public struct Step: Sendable {
        public var send: [UInt8] = []
        public var outcome: Outcome?
    }

    private enum Phase {
        case peerKey
        case initiatorScanning(expected: [UInt8])
        case initiatorSelect
        case initiatorPadD(length: Int, selected: MSECryptoMethods)
        case receiverScanning(expected: [UInt8])
        case receiverHash
        case receiverProvide
        case receiverPadC(length: Int, provided: MSECryptoMethods)
        case receiverInitialLength(provided: MSECryptoMethods)
        case receiverInitialPayload(length: Int, provided: MSECryptoMethods)
        case done
        case failed
    }

    private let isInitiator: Bool
    private let allowed: MSECryptoMethods
    /// The initiator's IA (at most `maxInitialPayload` bytes).
    private let initialPayload: [UInt8]
    private let keys: any MSEKeyAgreement
    private let padding: [UInt8]
    private let findTorrent: ([UInt8]) -> InfoHash?
    private var infoHash: InfoHash?
    private var secret: [UInt8] = []
    private var encryptor: RC4?
    private var decryptor: RC4?
    private var pending: [UInt8] = []
    /// Where the current scan resumes in `pending`: positions before it were already tried, so
    /// a peer that trickles its padding a byte at a time costs a linear scan, not a quadratic one.
    private var scanFrom = 0
    private var phase = Phase.peerKey

    /// The largest IA sent (a BitTorrent handshake is 68 bytes).
    public static let maxInitialPayload = 1024

    /// The dialling side for `infoHash`, offering `provide` (RC4, plaintext or both), sending
    /// `initialPayload` (cut to `maxInitialPayload`) as IA. `keys`: a fresh `MSEKeyExchange`
    /// from `random` unless given.
    public init<R: RandomNumberGenerator>(initiatorFor infoHash: InfoHash, provide: MSECryptoMethods,
                                          initialPayload: [UInt8] = [],
                                          keys: (any MSEKeyAgreement)? = nil, using random: inout R) {
        isInitiator = true
        allowed = provide
        self.initialPayload = Array(initialPayload.prefix(Self.maxInitialPayload))
        self.keys = keys ?? MSEKeyExchange(using: &random)
        padding = Self.randomPadding(using: &random)
        self.infoHash = infoHash
        findTorrent = { _ in nil }
    }

    /// The accepting side, taking the methods in `allow`; `findTorrent` maps `HASH('req2', SKEY)`
    /// to the torrent it names (nil: not one we serve).
    public init<R: RandomNumberGenerator>(receiverAllowing allow: MSECryptoMethods,
                                          findTorrent: @escaping ([UInt8]) -> InfoHash?,
                                          keys: (any MSEKeyAgreement)? = nil, using random: inout R) {
        isInitiator = false
        allowed = allow
        initialPayload = []
        self.keys = keys ?? MSEKeyExchange(using: &random)
        padding = Self.randomPadding(using: &random)
        self.findTorrent = findTorrent
    }

    /// What to send first: Ya and PadA for the initiator; nothing for the receiver, who speaks
    /// once it has Ya.
    public func start() -> [UInt8] {
        isInitiator ? keys.publicKey + padding : []
    }

    /// `HASH('req2', infoHash)`: what a receiver's `findTorrent` looks for.
    public static func obfuscatedHash(of infoHash: InfoHash) -> [UInt8] {
        sha1(Array("req2".utf8), infoHash.bytes)
    }

    /// Takes the peer's next bytes. Throws when the peer broke the handshake; after the step
    /// with an outcome the handshake is over and the caller runs the stream itself.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(MSEError) -> Step {
        switch phase {
        case .failed, .done: throw .over
        default: break
        }
        pending.append(contentsOf: bytes)
        do {
            return try advance()
        } catch {
            phase = .failed
            pending = []
            throw error
        }
    }

    // MARK: - The phases

    private mutating func advance() throws(MSEError) -> Step {
        var step = Step()
        while true {
            switch phase {
            case .peerKey:
                guard pending.count >= MSEKeyExchange.keyLength else { return step }
                let peerKey = take(MSEKeyExchange.keyLength, decrypting: false)
                secret = try keys.sharedSecret(with: peerKey)
                if isInitiator {
                    step.send += initiatorRequest()
                    var peek = decryptor!
                    phase = .initiatorScanning(expected: peek.keystream(8))
                } else {
                    step.send += keys.publicKey + padding
                    phase = .receiverScanning(expected: Self.sha1(Array("req1".utf8), secret))
                }
            case let .initiatorScanning(expected):
                guard try scan(for: expected, within: Self.verificationScanLimit, marker: "encrypted VC") else { return step }
                _ = take(8, decrypting: true)
                phase = .initiatorSelect
            case .initiatorSelect:
                guard pending.count >= 6 else { return step }
                let fields = take(6, decrypting: true)
                let selected = MSECryptoMethods(rawValue: Self.uint32(fields[0..<4]))
                guard selected == .rc4 || selected == .plaintext, allowed.contains(selected) else {
                    throw .badSelection(selected.rawValue)
                }
                let length = Int(Self.uint16(fields[4..<6]))
                guard length <= Self.maxPadding else { throw .paddingTooLong(length) }
                phase = .initiatorPadD(length: length, selected: selected)
            case let .initiatorPadD(length, selected):
                guard pending.count >= length else { return step }
                _ = take(length, decrypting: true)
                step.outcome = finish(method: selected, initialPayload: [])
                return step
            case let .receiverScanning(expected):
                guard try scan(for: expected, within: Self.requestScanLimit, marker: "HASH('req1', S)") else { return step }
                _ = take(20, decrypting: false)
                phase = .receiverHash
            case .receiverHash:
                guard pending.count >= 20 else { return step }
                let mask = Self.sha1(Array("req3".utf8), secret)
                let obfuscated = zip(take(20, decrypting: false), mask).map { $0 ^ $1 }
                guard let found = findTorrent(obfuscated) else { throw .unknownTorrent }
                infoHash = found
                makeCiphers()
                phase = .receiverProvide
            case .receiverProvide:
                guard pending.count >= 14 else { return step }
                let fields = take(14, decrypting: true)
                guard fields[0..<8].allSatisfy({ $0 == 0 }) else { throw .badVerificationConstant }
                let provided = MSECryptoMethods(rawValue: Self.uint32(fields[8..<12]))
                guard !provided.intersection(allowed).intersection([.rc4, .plaintext]).isEmpty else {
                    throw .noCommonMethod(offered: provided.rawValue, allowed: allowed.rawValue)
                }
                let length = Int(Self.uint16(fields[12..<14]))
                guard length <= Self.maxPadding else { throw .paddingTooLong(length) }
                phase = .receiverPadC(length: length, provided: provided)
            case let .receiverPadC(length, provided):
                guard pending.count >= length else { return step }
                _ = take(length, decrypting: true)
                phase = .receiverInitialLength(provided: provided)
            case let .receiverInitialLength(provided):
                guard pending.count >= 2 else { return step }
                let length = Int(Self.uint16(take(2, decrypting: true)[0..<2]))
                phase = .receiverInitialPayload(length: length, provided: provided)
            case let .receiverInitialPayload(length, provided):
                guard pending.count >= length else { return step }
                let initial = take(length, decrypting: true)
                // RC4 whenever both sides can: the point of asking for encryption.
                let selected: MSECryptoMethods = provided.contains(.rc4) && allowed.contains(.rc4) ? .rc4 : .plaintext
                var answer = [UInt8](repeating: 0, count: 8) + Self.bytes(selected.rawValue) + [0, 0]
                encryptor!.apply(to: &answer)
                step.send += answer
                step.outcome = finish(method: selected, initialPayload: initial)
                return step
            case .done, .failed:
                return step
            }
        }
    }

    /// Message 3, once S is known: the two hashes, then the encrypted VC, our offer, no PadC
    /// (the spec reserves it; clients send none) and the IA, encrypted whatever is selected.
    private mutating func initiatorRequest() -> [UInt8] {
        let skey = infoHash!.bytes
        let req2 = Self.sha1(Array("req2".utf8), skey)
        let req3 = Self.sha1(Array("req3".utf8), secret)
        makeCiphers()
        let length = UInt16(initialPayload.count)
        var encrypted = [UInt8](repeating: 0, count: 8) + Self.bytes(allowed.rawValue) + [0, 0]
            + [UInt8(length >> 8), UInt8(length & 0xFF)] + initialPayload
        encryptor!.apply(to: &encrypted)
        return Self.sha1(Array("req1".utf8), secret) + zip(req2, req3).map { $0 ^ $1 } + encrypted
    }

    /// The two RC4 streams, from S and the info-hash, each past its first 1024 bytes.
    private mutating func makeCiphers() {
        let skey = infoHash!.bytes
        var keyA = RC4(key: Self.sha1(Array("keyA".utf8), secret, skey))
        var keyB = RC4(key: Self.sha1(Array("keyB".utf8), secret, skey))
        keyA.discard(1024)
        keyB.discard(1024)
        (encryptor, decryptor) = isInitiator ? (keyA, keyB) : (keyB, keyA)
    }

    private mutating func finish(method: MSECryptoMethods, initialPayload: [UInt8]) -> Outcome {
        var rest = pending
        pending = []
        phase = .done
        if method == .rc4 {
            decryptor!.apply(to: &rest)
        }
        let plain = method == .rc4
        return Outcome(method: method, infoHash: infoHash!, encryptor: plain ? encryptor : nil,
                       decryptor: plain ? decryptor : nil, payload: initialPayload + rest)
    }

    /// Drops everything before `marker` once it is in `pending` (true), or fails once `limit`
    /// bytes went by without it.
    private mutating func scan(for marker: [UInt8], within limit: Int, marker name: String) throws(MSEError) -> Bool {
        let searchable = min(pending.count, limit)
        if searchable >= marker.count, scanFrom <= searchable - marker.count {
            for start in scanFrom...(searchable - marker.count)
            where pending[start..<(start + marker.count)].elementsEqual(marker) {
                pending.removeFirst(start)
                scanFrom = 0
                return true
            }
            scanFrom = searchable - marker.count + 1
        }
        if pending.count >= limit { throw .synchronisationNotFound(marker: name, scanned: limit) }
        return false
    }

    private mutating func take(_ count: Int, decrypting: Bool) -> [UInt8] {
        var bytes = Array(pending[0..<count])
        pending.removeFirst(count)
        if decrypting { decryptor!.apply(to: &bytes) }
        return bytes
    }

    // MARK: - Helpers

    private static func randomPadding<R: RandomNumberGenerator>(using random: inout R) -> [UInt8] {
        (0..<Int.random(in: 0...maxPadding, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    static func sha1(_ parts: [UInt8]...) -> [UInt8] {
        var hasher = Insecure.SHA1()
        for part in parts { hasher.update(data: part) }
        return Array(hasher.finalize())
    }

    private static func uint32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    private static func uint16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        bytes.reduce(0) { $0 << 8 | UInt16($1) }
    }

    private static func bytes(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
