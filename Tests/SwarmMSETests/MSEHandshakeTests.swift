import SwarmMetainfo
import Testing
@testable import SwarmMSE

@Suite("MSE handshake")
struct MSEHandshakeTests {
    static let torrent = InfoHash(bytes: [UInt8](repeating: 0xAB, count: 20))!
    static let other = InfoHash(bytes: [UInt8](repeating: 0x01, count: 20))!

    static func receiver(allowing allow: MSECryptoMethods, seed: UInt64,
                         torrents: [InfoHash] = [other, torrent]) -> MSEHandshake {
        var random = SplitMix64(seed: seed)
        let known = Dictionary(uniqueKeysWithValues: torrents.map { (MSEHandshake.obfuscatedHash(of: $0), $0) })
        return MSEHandshake(receiverAllowing: allow, findTorrent: { known[$0] }, using: &random)
    }

    static func initiator(provide: MSECryptoMethods, seed: UInt64, infoHash: InfoHash = torrent) -> MSEHandshake {
        var random = SplitMix64(seed: seed)
        return MSEHandshake(initiatorFor: infoHash, provide: provide, using: &random)
    }

    /// Runs both sides against each other, delivering at most `chunk` bytes per feed, with
    /// `afterA` sent by A right after its handshake (under the selected method) and `afterB` by B.
    static func run(_ a: inout MSEHandshake, _ b: inout MSEHandshake, chunk: Int, extraFromB: [UInt8] = [])
        throws -> (MSEHandshake.Outcome, MSEHandshake.Outcome) {
        var toB = a.start()
        var toA: [UInt8] = []
        var outcomeA: MSEHandshake.Outcome?
        var outcomeB: MSEHandshake.Outcome?
        var rounds = 0
        while outcomeA == nil || outcomeB == nil {
            rounds += 1
            guard rounds < 10_000 else { throw MSEError.over }
            if !toB.isEmpty, outcomeB == nil {
                let piece = Array(toB.prefix(chunk))
                toB.removeFirst(piece.count)
                let step = try b.feed(piece)
                toA += step.send
                if var done = step.outcome {
                    var extra = extraFromB
                    if done.encryptor != nil { done.encryptor!.apply(to: &extra) }
                    toA += extra
                    outcomeB = done
                }
            } else if !toA.isEmpty, outcomeA == nil {
                let piece = Array(toA.prefix(chunk))
                toA.removeFirst(piece.count)
                let step = try a.feed(piece)
                toB += step.send
                if let done = step.outcome {
                    outcomeA = done
                    // Whatever is still queued for A belongs to the payload.
                    var rest = toA
                    toA = []
                    // The decryptor that deciphered the rest is the one that goes on.
                    var decryptor = done.decryptor
                    decryptor?.apply(to: &rest)
                    outcomeA = MSEHandshake.Outcome(method: done.method, infoHash: done.infoHash, encryptor: done.encryptor,
                                                    decryptor: decryptor, payload: done.payload + rest)
                }
            } else {
                throw MSEError.over
            }
        }
        return (outcomeA!, outcomeB!)
    }

    @Test("both roles agree on RC4, in any chunking", arguments: [1, 7, 64, 100_000])
    func rc4(chunk: Int) throws {
        var a = Self.initiator(provide: [.rc4, .plaintext], seed: 1)
        var b = Self.receiver(allowing: [.rc4, .plaintext], seed: 2)
        let (outA, outB) = try Self.run(&a, &b, chunk: chunk, extraFromB: Array("hello".utf8))
        #expect(outA.method == .rc4 && outB.method == .rc4)
        #expect(outB.infoHash == Self.torrent)
        #expect(outA.payload == Array("hello".utf8))
        // A's stream now reaches B decrypted.
        var encA = outA.encryptor!
        var decB = outB.decryptor!
        var message = Array("\u{13}BitTorrent protocol".utf8)
        encA.apply(to: &message)
        #expect(message != Array("\u{13}BitTorrent protocol".utf8))
        decB.apply(to: &message)
        #expect(message == Array("\u{13}BitTorrent protocol".utf8))
    }

    @Test("plaintext when the receiver allows only plaintext; the stream after it is not encrypted")
    func plaintext() throws {
        var a = Self.initiator(provide: [.rc4, .plaintext], seed: 3)
        var b = Self.receiver(allowing: [.plaintext], seed: 4)
        let (outA, outB) = try Self.run(&a, &b, chunk: 13, extraFromB: [1, 2, 3])
        #expect(outA.method == .plaintext && outB.method == .plaintext)
        #expect(outA.encryptor == nil && outA.decryptor == nil && outB.encryptor == nil)
        #expect(outA.payload == [1, 2, 3])
    }

    @Test("no common method fails on the receiving side")
    func requireAgainstPlaintext() {
        var a = Self.initiator(provide: [.plaintext], seed: 5)
        var b = Self.receiver(allowing: [.rc4], seed: 6)
        #expect(throws: MSEError.noCommonMethod(offered: 1, allowed: 2)) { try Self.run(&a, &b, chunk: 1000) }
    }

    @Test("an info-hash the receiver does not serve fails")
    func unknownTorrent() {
        var a = Self.initiator(provide: [.rc4], seed: 7, infoHash: InfoHash(bytes: [UInt8](repeating: 9, count: 20))!)
        var b = Self.receiver(allowing: [.rc4], seed: 8)
        #expect(throws: MSEError.unknownTorrent) { try Self.run(&a, &b, chunk: 1000) }
    }

    @Test("the receiver takes the initiator's IA as the payload's start")
    func initialPayload() throws {
        // Build message 3 by hand with an IA, as libtorrent sends it.
        var random = SplitMix64(seed: 11)
        let keysA = MSEKeyExchange(using: &random)
        var b = Self.receiver(allowing: [.rc4, .plaintext], seed: 12)
        let step1 = try b.feed(keysA.publicKey + [7, 7, 7])  // Ya and 3 bytes of PadA
        let yb = Array(step1.send.prefix(96))
        let secret = try keysA.sharedSecret(with: yb)
        var encA = RC4(key: MSEHandshake.sha1(Array("keyA".utf8), secret, Self.torrent.bytes))
        encA.discard(1024)
        let ia = Array("\u{13}BitTorrent protocol".utf8)
        var encrypted = [UInt8](repeating: 0, count: 8) + [0, 0, 0, 3] + [0, 2, 0xEE, 0xEE] + [0, UInt8(ia.count)] + ia
        encA.apply(to: &encrypted)
        let req2 = MSEHandshake.obfuscatedHash(of: Self.torrent)
        let req3 = MSEHandshake.sha1(Array("req3".utf8), secret)
        let message3 = MSEHandshake.sha1(Array("req1".utf8), secret) + zip(req2, req3).map { $0 ^ $1 } + encrypted
        let step2 = try b.feed(message3)
        let outcome = try #require(step2.outcome)
        #expect(outcome.method == .rc4)
        #expect(outcome.payload == ia)
        // B's answer: ENCRYPT(VC, select, len(PadD) = 0) under keyB.
        var decB = RC4(key: MSEHandshake.sha1(Array("keyB".utf8), secret, Self.torrent.bytes))
        decB.discard(1024)
        var answer = step2.send
        decB.apply(to: &answer)
        #expect(answer == [UInt8](repeating: 0, count: 8) + [0, 0, 0, 2, 0, 0])
    }

    @Test("garbage without the synchronisation marker fails within the scan limit, on both sides")
    func boundedScans() throws {
        var b = Self.receiver(allowing: [.rc4], seed: 13)
        var random = SplitMix64(seed: 14)
        let keysA = MSEKeyExchange(using: &random)
        _ = try b.feed(keysA.publicKey)
        _ = try b.feed([UInt8](repeating: 0x55, count: MSEHandshake.requestScanLimit - 1))
        #expect(throws: MSEError.synchronisationNotFound(marker: "HASH('req1', S)", scanned: 532)) {
            try b.feed([0x55])
        }
        #expect(throws: MSEError.over) { try b.feed([0x55]) }

        var a = Self.initiator(provide: [.rc4], seed: 15)
        _ = a.start()
        let keysB = MSEKeyExchange(using: &random)
        let step = try a.feed(keysB.publicKey)
        #expect(step.send.count == 20 + 20 + 8 + 4 + 2 + 2)
        #expect(throws: MSEError.synchronisationNotFound(marker: "encrypted VC", scanned: 520)) {
            try a.feed([UInt8](repeating: 0x66, count: 4000))
        }
    }

    @Test("a PadD longer than 512 bytes fails")
    func longPadding() throws {
        var random = SplitMix64(seed: 16)
        let keysB = MSEKeyExchange(using: &random)
        var a = Self.initiator(provide: [.rc4], seed: 17)
        let yaAndPad = a.start()
        let secret = try keysB.sharedSecret(with: Array(yaAndPad.prefix(96)))
        _ = try a.feed(keysB.publicKey)
        var encB = RC4(key: MSEHandshake.sha1(Array("keyB".utf8), secret, Self.torrent.bytes))
        encB.discard(1024)
        var answer = [UInt8](repeating: 0, count: 8) + [0, 0, 0, 2, 0x02, 0x01]
        encB.apply(to: &answer)
        #expect(throws: MSEError.paddingTooLong(513)) { try a.feed(answer) }
    }
}
