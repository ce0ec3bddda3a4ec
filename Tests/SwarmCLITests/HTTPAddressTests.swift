import Testing
@testable import SwarmCLI

@Suite struct HTTPAddressTests {
    @Test func parsesPortHostAndIPv6() {
        #expect(HTTPAddress.parse("8080") == HTTPAddress(host: "127.0.0.1", port: 8080))
        #expect(HTTPAddress.parse("0.0.0.0:80") == HTTPAddress(host: "0.0.0.0", port: 80))
        #expect(HTTPAddress.parse("localhost:0") == HTTPAddress(host: "localhost", port: 0))
        #expect(HTTPAddress.parse("[::1]:9000") == HTTPAddress(host: "::1", port: 9000))
        #expect(HTTPAddress.parse("[127.0.0.1]:9000") == HTTPAddress(host: "127.0.0.1", port: 9000))
    }

    @Test func refusesTheRest() {
        for text in ["", ":80", "host:", "65536", "-1", "80a", "::1:80", "[::1]", "[::1]80", "999999999999999999999", "x:+80"] {
            #expect(HTTPAddress.parse(text) == nil, "\(text)")
        }
    }
}
