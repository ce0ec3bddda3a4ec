import Foundation
import Testing
@testable import SwarmMSE
import SwarmMetainfo

@Suite("MSE Diffie-Hellman")
struct MSEKeyExchangeTests {
    @Test("a public key matches Python's pow(2, x, P)")
    func publicKeyReference() {
        let keys = MSEKeyExchange(privateKey: Array(1...20))
        let hex = keys.publicKey.map { String(format: "%02x", $0) }.joined()
        #expect(hex == "96e112dab29e8c5272accb9b17b26887ce54a144a4e3b697c7d159b7a817e556b0918db2b4c658e02a87f7e5fb14b18a" +
            "553e084cbf3dad2d30f16596ccb982d406258c61b30c5c1dae2ddc60bdbd48d79896312aad63238c39e1a633821eb693")
    }

    @Test("small keys are zero-padded to 96 bytes")
    func padding() {
        let keys = MSEKeyExchange(privateKey: [3])
        #expect(keys.publicKey == [UInt8](repeating: 0, count: 95) + [8])
    }

    @Test("both sides reach the same secret")
    func agreement() throws {
        var random = SplitMix64(seed: 7)
        let a = MSEKeyExchange(using: &random)
        let b = MSEKeyExchange(using: &random)
        let sa = try a.sharedSecret(with: b.publicKey)
        #expect(sa.count == 96)
        #expect(sa == (try b.sharedSecret(with: a.publicKey)))
    }

    @Test("degenerate or misshapen peer keys are refused")
    func hostileKeys() {
        let keys = MSEKeyExchange(privateKey: [9, 9, 9])
        let zero = [UInt8](repeating: 0, count: 96)
        let one = [UInt8](repeating: 0, count: 95) + [1]
        let ones = [UInt8](repeating: 0xFF, count: 96)
        for bad in [zero, one, ones, [UInt8](repeating: 5, count: 95), [UInt8](repeating: 5, count: 97)] {
            #expect(throws: MSEError.self) { try keys.sharedSecret(with: bad) }
        }
    }
}

