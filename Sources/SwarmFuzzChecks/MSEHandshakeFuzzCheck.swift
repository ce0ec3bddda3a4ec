import SwarmMetainfo
import SwarmMSE

/// The MSE handshake (both roles) under hostile bytes, with a stand-in key agreement (the real
/// Diffie-Hellman is unit-tested; here it would spend the run on modular exponentiation). The first byte picks a case:
/// - 0: the input, cut into pieces by its own bytes, is what a peer sends our receiver;
/// - 1: the same, sent to our initiator after its Ya;
/// - otherwise an honest pair whose pieces the input cuts, which must agree.
/// A hostile run never ends with a torrent other than the one served or a method not allowed,
/// and once it fails it stays failed; an honest run always completes with the same method.
enum MSEHandshakeFuzzCheck {
    static let torrent = InfoHash(bytes: [UInt8](repeating: 0x5A, count: 20))!

    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        guard let mode = input.first else { return }
        let body = Array(input.dropFirst())
        // Deterministic, so that an input replays the same run.
        var random = SplitMix64(seed: UInt64(body.count))
        switch mode {
        case 0:
            let known = MSEHandshake.obfuscatedHash(of: torrent)
            var receiver = MSEHandshake(receiverAllowing: .rc4, findTorrent: { $0 == known ? torrent : nil },
                                        keys: StandInKeys(seed: 1), using: &random)
            try hostile(&receiver, body, allowed: .rc4)
        case 1:
            var initiator = MSEHandshake(initiatorFor: torrent, provide: [.rc4, .plaintext], keys: StandInKeys(seed: 2),
                                         using: &random)
            _ = initiator.start()
            try hostile(&initiator, body, allowed: [.rc4, .plaintext])
        default:
            try honest(body, provide: mode & 1 == 0 ? [.rc4, .plaintext] : .plaintext, random: &random)
        }
    }

    private static func hostile(_ handshake: inout MSEHandshake, _ body: [UInt8], allowed: MSECryptoMethods)
        throws(FuzzInvariantViolation) {
        var offset = 0
        var failed = false
        while offset < body.count {
            let size = max(1, Int(body[offset]) * 4)
            let piece = body[offset..<min(body.count, offset + size)]
            offset += piece.count
            let step: MSEHandshake.Step
            do throws(MSEError) {
                step = try handshake.feed(piece)
            } catch {
                if failed { try require(error == .over, .mseHandshake, "after failing: \(error)") }
                failed = true
                continue
            }
            try require(!failed, .mseHandshake, "a failed handshake took more input")
            if let outcome = step.outcome {
                try require(outcome.infoHash == torrent, .mseHandshake, "ended for another torrent")
                try require(allowed.contains(outcome.method), .mseHandshake, "selected \(outcome.method.rawValue)")
                return
            }
        }
    }

    private static func honest(_ cuts: [UInt8], provide: MSECryptoMethods, random: inout SplitMix64)
        throws(FuzzInvariantViolation) {
        var a = MSEHandshake(initiatorFor: torrent, provide: provide, keys: StandInKeys(seed: 3), using: &random)
        let known = MSEHandshake.obfuscatedHash(of: torrent)
        var b = MSEHandshake(receiverAllowing: [.rc4, .plaintext], findTorrent: { $0 == known ? torrent : nil },
                             keys: StandInKeys(seed: 4), using: &random)
        var toB = a.start()
        var toA: [UInt8] = []
        var doneA: MSEHandshake.Outcome?
        var doneB: MSEHandshake.Outcome?
        var turn = 0
        while doneA == nil || doneB == nil {
            let size = cuts.isEmpty ? 1_000 : max(1, Int(cuts[turn % cuts.count]))
            turn += 1
            do {
                if !toB.isEmpty, doneB == nil {
                    let piece = Array(toB.prefix(size))
                    toB.removeFirst(piece.count)
                    let step = try b.feed(piece)
                    toA += step.send
                    doneB = step.outcome ?? doneB
                } else if !toA.isEmpty, doneA == nil {
                    let piece = Array(toA.prefix(size))
                    toA.removeFirst(piece.count)
                    let step = try a.feed(piece)
                    toB += step.send
                    doneA = step.outcome ?? doneA
                } else {
                    throw FuzzInvariantViolation(target: .mseHandshake, detail: "honest pair stalled")
                }
            } catch let error as FuzzInvariantViolation {
                throw error
            } catch {
                throw FuzzInvariantViolation(target: .mseHandshake, detail: "honest pair failed: \(error)")
            }
        }
        try require(doneA!.method == doneB!.method, .mseHandshake, "the two sides chose different methods")
        try require(doneA!.method == (provide.contains(.rc4) ? .rc4 : .plaintext), .mseHandshake, "RC4 not preferred")
        try require(doneA!.payload.isEmpty && doneB!.payload.isEmpty, .mseHandshake, "payload out of nothing")
    }
}

/// A symmetric stand-in for Diffie-Hellman: S = our key XOR the peer's, refused for the sizes
/// and the all-zero keys the real one refuses too.
struct StandInKeys: MSEKeyAgreement {
    let publicKey: [UInt8]

    init(seed: UInt8) {
        publicKey = (0..<96).map { UInt8(truncatingIfNeeded: Int($0) &* 37 &+ Int(seed) &* 101 &+ 1) }
    }

    func sharedSecret(with peerKey: [UInt8]) throws(MSEError) -> [UInt8] {
        guard peerKey.count == 96 else { throw .badPublicKey("\(peerKey.count) bytes") }
        guard peerKey.contains(where: { $0 != 0 }) else { throw .badPublicKey("zero") }
        return zip(publicKey, peerKey).map { $0 ^ $1 }
    }
}
