import SwarmMSE
import Testing
@testable import SwarmSession

@Suite struct PeerEncryptionTests {
    @Test func policiesOfferAndAccept() {
        #expect(PeerEncryption(policy: .prefer).methodsToOffer(dialling: "10.0.0.1:1") == [.rc4, .plaintext])
        #expect(PeerEncryption(policy: .require).methodsToOffer(dialling: "10.0.0.1:1") == .rc4)
        #expect(PeerEncryption(policy: .disable).methodsToOffer(dialling: "10.0.0.1:1") == nil)
        #expect(PeerEncryption(policy: .require).methodsAccepted == .rc4)
        #expect(PeerEncryption(policy: .disable).methodsAccepted == nil)
        #expect(!PeerEncryption(policy: .require).acceptsPlaintext)
        #expect(PeerEncryption(policy: .prefer).acceptsPlaintext)
    }

    @Test func preferRemembersPeersThatWantPlaintextWithinABound() {
        let encryption = PeerEncryption(policy: .prefer)
        encryption.rememberPlaintext("10.0.0.1:1")
        #expect(encryption.methodsToOffer(dialling: "10.0.0.1:1") == nil)
        #expect(encryption.methodsToOffer(dialling: "10.0.0.1:2") == [.rc4, .plaintext], "per address")
        for index in 0..<PeerEncryption.memoryLimit { encryption.rememberPlaintext("10.1.\(index / 256).\(index % 256):1") }
        #expect(encryption.methodsToOffer(dialling: "10.0.0.1:1") == [.rc4, .plaintext], "forgotten past the bound")
    }
}
