import NIOHTTP1
import SwarmFS
import Testing
@testable import SwarmHTTP

@Suite struct FileResponsePlanTests {
    static let hash = "0123456789abcdef0123456789abcdef01234567"
    let file = FSFileEntry(path: ["Show", "a.mkv"], length: 1000, fileIndex: 3)

    func plan(_ method: HTTPMethod = .GET, _ headers: [(String, String)] = []) -> FileResponsePlan {
        FileResponsePlan.make(method: method, headers: HTTPHeaders(headers), infoHash: Self.hash, modified: 784_111_777, file: file)
    }

    func header(_ plan: FileResponsePlan, _ name: String) -> String? {
        plan.headers.first { $0.0 == name }?.1
    }

    @Test func wholeFile() {
        let whole = plan()
        #expect(whole.status == .ok)
        #expect(whole.body == 0..<1000)
        #expect(header(whole, "Content-Length") == "1000")
        #expect(header(whole, "Accept-Ranges") == "bytes")
        #expect(header(whole, "Content-Type") == "video/x-matroska")
        #expect(header(whole, "ETag") == "\"\(Self.hash)-3\"")
        #expect(header(whole, "Last-Modified") == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(header(whole, "Content-Range") == nil)
    }

    @Test func headSendsNoBody() {
        let head = plan(.HEAD, [("Range", "bytes=10-19")])
        #expect(head.status == .partialContent)
        #expect(head.body == nil)
        #expect(header(head, "Content-Length") == "10")
    }

    @Test func ranges() {
        let partial = plan(.GET, [("Range", "bytes=-100")])
        #expect(partial.status == .partialContent)
        #expect(partial.body == 900..<1000)
        #expect(header(partial, "Content-Range") == "bytes 900-999/1000")
        let unsatisfiable = plan(.GET, [("Range", "bytes=1000-")])
        #expect(unsatisfiable.status == .rangeNotSatisfiable)
        #expect(unsatisfiable.body == nil)
        #expect(header(unsatisfiable, "Content-Range") == "bytes */1000")
    }

    @Test func conditionals() {
        let tag = "\"\(Self.hash)-3\""
        #expect(plan(.GET, [("If-None-Match", "\"x\", W/\(tag)")]).status == .notModified)
        #expect(plan(.GET, [("If-None-Match", "\"x\"")]).status == .ok)
        #expect(plan(.GET, [("Range", "bytes=0-9"), ("If-Range", tag)]).status == .partialContent)
        #expect(plan(.GET, [("Range", "bytes=0-9"), ("If-Range", "\"other\"")]).status == .ok)
    }

    @Test func contentTypes() {
        #expect(MediaType.of("a.MP4") == "video/mp4")
        #expect(MediaType.of("a.webm") == "video/webm")
        #expect(MediaType.of("a.flac") == "audio/flac")
        #expect(MediaType.of("readme.txt") == "text/plain; charset=utf-8")
        #expect(MediaType.of("evil.html") == "text/plain; charset=utf-8")
        #expect(MediaType.of("evil.svg") == "text/plain; charset=utf-8")
        #expect(MediaType.of("noext") == "application/octet-stream")
        #expect(MediaType.of(".mkv") == "application/octet-stream")
        #expect(MediaType.isMedia("x.mkv") && !MediaType.isMedia("x.txt"))
    }

    @Test func playlistURLsAreEncodedAndHostsChecked() {
        #expect(Playlist.filePath(infoHash: Self.hash, path: ["My Show", "é#1.mkv"])
            == "/t/\(Self.hash)/My%20Show/%C3%A9%231.mkv")
        #expect(Playlist.base(host: "tv.local:8080", fallback: "127.0.0.1:1") == "http://tv.local:8080")
        #expect(Playlist.base(host: "[::1]:8080", fallback: "127.0.0.1:1") == "http://[::1]:8080")
        #expect(Playlist.base(host: "evil\n#EXTINF", fallback: "127.0.0.1:1") == "http://127.0.0.1:1")
        #expect(Playlist.base(host: nil, fallback: "127.0.0.1:1") == "http://127.0.0.1:1")
    }

    @Test func dates() {
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(-5) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(Int64.max).hasSuffix("9999 23:59:59 GMT"))
    }
}
