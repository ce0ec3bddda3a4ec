import Testing
@testable import SwarmHTTP

@Suite struct HTTPRouteTests {
    static let hash = "0123456789abcdef0123456789abcdef01234567"

    @Test func fixedRoutes() {
        #expect(HTTPRoute.parse(target: "/") == .page)
        #expect(HTTPRoute.parse(target: "/?x=1") == .page)
        #expect(HTTPRoute.parse(target: "/index.html") == .page)
        #expect(HTTPRoute.parse(target: "/app.js") == .asset("app.js"))
        #expect(HTTPRoute.parse(target: "/style.css") == .asset("style.css"))
        #expect(HTTPRoute.parse(target: "/status.json") == .status)
        #expect(HTTPRoute.parse(target: "/playlist.m3u") == .playlistAll)
        #expect(HTTPRoute.parse(target: "/other") == .notFound)
        #expect(HTTPRoute.parse(target: "/x/y") == .notFound)
    }

    @Test func torrentRoutesDecodeOnceAndLowercaseTheHash() {
        let upper = Self.hash.uppercased()
        #expect(HTTPRoute.parse(target: "/t/\(upper).m3u") == .playlist(infoHash: Self.hash))
        #expect(HTTPRoute.parse(target: "/t/\(Self.hash)/My%20Show/e%C3%A9%2525.mkv?t=3")
            == .file(infoHash: Self.hash, path: ["My Show", "eé%25.mkv"]))
        #expect(HTTPRoute.parse(target: "/t/nothex/a") == .notFound)
        #expect(HTTPRoute.parse(target: "/t/\(Self.hash)") == .notFound)
    }

    @Test func pathsThatLeaveTheTorrentAreRefused() {
        for attack in ["/t/\(Self.hash)/../x", "/t/\(Self.hash)/%2e%2E/x", "/t/\(Self.hash)/a/./b",
                       "/t/\(Self.hash)/a%2Fb", "/t/\(Self.hash)/a%2f..%2fb", "/t/\(Self.hash)/a%00b",
                       "/t/\(Self.hash)/a%5cb", "/t/\(Self.hash)/a//b", "/t/\(Self.hash)/a%zz",
                       "/t/\(Self.hash)/a%", "/t/\(Self.hash)/%ff%fe", "/..", "t/x", "*",
                       "/" + String(repeating: "a", count: HTTPRoute.targetLimit)] {
            guard case .badRequest = HTTPRoute.parse(target: attack) else {
                Issue.record("\(attack.prefix(80)) was not refused: \(HTTPRoute.parse(target: attack))")
                continue
            }
        }
    }

    @Test func doubleEncodingIsDecodedOnlyOnce() {
        // %252e%252e is the literal name "%2e%2e", not "..".
        #expect(HTTPRoute.parse(target: "/t/\(Self.hash)/%252e%252e") == .file(infoHash: Self.hash, path: ["%2e%2e"]))
    }
}
