@testable import SwarmSession
import SwarmDHT
import SwarmMetainfo
import Testing

@Suite("Which DHT nodes the engine runs (BEP 32)")
struct DHTFamiliesTests {
    @Test("any address: IPv4, and IPv6 too where the machine has a routable IPv6 address")
    func anyAddress() {
        for host in ["0.0.0.0", "::"] {
            #expect(DHTFamilies.nodes(listenHost: host, hostHasRoutableIPv6: { false }).map(\.family) == [.ipv4])
            let both = DHTFamilies.nodes(listenHost: host, hostHasRoutableIPv6: { true })
            #expect(both.map(\.family) == [.ipv4, .ipv6])
            #expect(both.map(\.host) == ["0.0.0.0", "::"])
        }
    }

    @Test("an address: its own family alone, bound to it")
    func oneAddress() {
        let v4 = DHTFamilies.nodes(listenHost: "127.0.0.7", hostHasRoutableIPv6: { true })
        #expect(v4.map(\.family) == [.ipv4] && v4.map(\.host) == ["127.0.0.7"])
        let v6 = DHTFamilies.nodes(listenHost: "::1", hostHasRoutableIPv6: { false })
        #expect(v6.map(\.family) == [.ipv6] && v6.map(\.host) == ["::1"])
    }

    @Test("loopback, link-local, unspecified and IPv4-mapped IPv6 addresses are not routable")
    func routable() {
        for text in ["::1", "::", "fe80::1", "febf::1", "::ffff:10.0.0.1"] {
            #expect(!DHTFamilies.isRoutable(IPAddress(text: text)!), "\(text)")
        }
        for text in ["2001:db8::1", "fd00::5", "fec0::1"] {
            #expect(DHTFamilies.isRoutable(IPAddress(text: text)!), "\(text)")
        }
    }
}
