import Foundation
import Testing
@testable import SwarmMSE

@Suite("RC4")
struct RC4Tests {
    private static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test("the classic test vectors", arguments: [
        ("Key", "Plaintext", "bbf316e8d940af0ad3"),
        ("Wiki", "pedia", "1021bf0420"),
        ("Secret", "Attack at dawn", "45a01f645fc35b383552544b9bf5"),
    ])
    func vectors(key: String, plaintext: String, ciphertext: String) {
        var cipher = RC4(key: Array(key.utf8))
        var bytes = Array(plaintext.utf8)
        cipher.apply(to: &bytes)
        #expect(Self.hex(bytes) == ciphertext)
    }

    @Test("an MSE key past its first 1024 bytes (from Python's cryptography ARC4)")
    func discardMatchesReference() {
        // SHA-1("keyA" + 96 zero bytes + 20 zero bytes).
        let key: [UInt8] = [0x3c, 0x40, 0xe3, 0x53, 0x55, 0x0d, 0x29, 0x21, 0x07, 0x33,
                            0x4c, 0x64, 0x29, 0x8a, 0xd1, 0x90, 0xbe, 0x48, 0xe8, 0x85]
        #expect(Self.hex(MSEHandshake.sha1(Array("keyA".utf8), [UInt8](repeating: 0, count: 96),
                                           [UInt8](repeating: 0, count: 20))) == Self.hex(key))
        var cipher = RC4(key: key)
        cipher.discard(1024)
        #expect(Self.hex(cipher.keystream(16)) == "e176a30d928ef5db442eb306d1931955")
    }

    @Test("encrypting in pieces equals encrypting at once, and decrypting restores")
    func streaming() {
        let plain = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var whole = RC4(key: [1, 2, 3])
        var once = plain
        whole.apply(to: &once)
        var pieces = RC4(key: [1, 2, 3])
        var chunked: [UInt8] = []
        var offset = 0
        for size in [1, 7, 100, 1500, 3392] {
            var chunk = Array(plain[offset..<(offset + size)])
            pieces.apply(to: &chunk)
            chunked += chunk
            offset += size
        }
        #expect(chunked == once)
        var back = RC4(key: [1, 2, 3])
        back.apply(to: &once)
        #expect(once == plain)
    }
}
