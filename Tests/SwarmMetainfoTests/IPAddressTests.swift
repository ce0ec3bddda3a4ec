import SwarmMetainfo
import Testing

@Suite("IPAddress")
struct IPAddressTests {
    @Test("IPv4 literals parse to four bytes and print as dotted decimal",
          arguments: [("192.0.2.1", [192, 0, 2, 1]), ("0.0.0.0", [0, 0, 0, 0]), ("255.255.255.255", [255, 255, 255, 255])])
    func ipv4(text: String, bytes: [UInt8]) throws {
        let address = try #require(IPAddress(text: text))
        #expect(address.bytes == bytes && address.isIPv4)
        #expect(address.description == text)
    }

    @Test("IPv6 literals print in RFC 5952 form",
          arguments: [
              ("2001:DB8:0:0:0:0:2:1", "2001:db8::2:1"),
              ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single zero group stays
              ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),  // the longer run is compressed
              ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // the first of equal runs
              ("::", "::"), ("::1", "::1"), ("1::", "1::"), ("fe80::1", "fe80::1"),
              ("::ffff:192.0.2.1", "::ffff:192.0.2.1"), ("::ffff:c000:201", "::ffff:192.0.2.1"),
              ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
              ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
          ])
    func ipv6(text: String, canonical: String) throws {
        let address = try #require(IPAddress(text: text))
        #expect(address.bytes.count == 16 && !address.isIPv4)
        #expect(address.description == canonical)
        #expect(IPAddress(text: canonical) == address)
    }

    @Test("what is not an IP literal is refused",
          arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1..2.3", " 1.2.3.4",
                      "example.com", ":", ":::", "1:::2", "1::2::3", ":1:2", "1:2:3:4:5:6:7:8:9",
                      "1:2:3:4:5:6:7:8::", "1:2:3:4:5:6:7", "12345::", "g::1", "+1::", "1:2:3:4:5:6:7:1.2.3.4",
                      "1.2.3.4::", "::1.2.3", "[::1]", "::1%eth0",
                      String(repeating: "0", count: 46), String(repeating: "1:", count: 100)])
    func refused(text: String) {
        #expect(IPAddress(text: text) == nil)
    }

    @Test("raw bytes must be 4 or 16")
    func rawBytes() {
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        #expect(IPAddress(bytes: [UInt8](repeating: 0, count: 5)) == nil)
        #expect(IPAddress(bytes: [10, 0, 0, 1])?.description == "10.0.0.1")
        #expect(IPAddress(bytes: [UInt8](repeating: 0, count: 15) + [1])?.description == "::1")
    }
}
