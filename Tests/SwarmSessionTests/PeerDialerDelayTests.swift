@testable import SwarmSession
import NIOCore
import SwarmMetainfo
import Testing

@Suite("How long uTP has alone before TCP joins a dial")
struct PeerDialerDelayTests {
    @Test("a round trip's worth: a millisecond on the local network, an Internet one elsewhere")
    func delays() {
        for local in ["127.0.0.5", "10.1.2.3", "172.20.0.1", "192.168.1.9", "169.254.3.4", "::1", "fe80::1", "fd00::7",
                      "::ffff:192.168.0.1"] {
            #expect(PeerDialer.tcpDelay(dialling: local) == PeerDialer.localTCPDelay, "\(local)")
        }
        for remote in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "tracker.example.org"] {
            #expect(PeerDialer.tcpDelay(dialling: remote) == PeerDialer.tcpDelay, "\(remote)")
        }
    }
}
