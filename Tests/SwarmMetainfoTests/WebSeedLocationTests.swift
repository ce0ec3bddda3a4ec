import SwarmMetainfo
import Testing

@Suite("Web seed URLs (BEP 19)")
struct WebSeedLocationTests {
    static func layout(_ files: [(path: [String], length: Int64, isPadding: Bool)], pieceLength: Int = 100) -> FileLayout {
        FileLayout(pieceLength: pieceLength, files: files)
    }

    @Test("only absolute http(s) URLs of printable ASCII with a host")
    func validation() {
        for good in ["http://a/", "https://mirror.example.org/pub/x.iso", "HTTP://H:8080/d/"] {
            #expect(WebSeedLocation(url: good) != nil, "\(good)")
        }
        for bad in ["", "ftp://a/", "http://", "http:///x", "file:///etc/passwd", "http://a/ b", "http://a/\u{7f}",
                    "https://a/é", "javascript:alert(1)", "http://" + String(repeating: "a", count: 3000)] {
            #expect(WebSeedLocation(url: bad) == nil, "\(bad)")
        }
    }

    @Test("single file: the URL itself, or the folder plus the name")
    func singleFile() {
        let layout = Self.layout([(["movie one.mkv"], 250, false)])
        let file = layout.files[0]
        #expect(WebSeedLocation(url: "http://h/x/movie.mkv")!.url(of: file, isSingleFile: true) == "http://h/x/movie.mkv")
        #expect(WebSeedLocation(url: "http://h/x/")!.url(of: file, isSingleFile: true) == "http://h/x/movie%20one.mkv")
        let parts = WebSeedLocation(url: "http://h/f")!.parts(torrentOffset: 90, length: 100, layout: layout, isSingleFile: true)
        #expect(parts == [.fetch(url: "http://h/f", fileOffset: 90, length: 100)])
    }

    @Test("multi-file: folder + name + path, percent-encoded; padding is zeros; spans cross files")
    func multiFile() {
        let layout = Self.layout([(["pack", "a.bin"], 150, false), (["pack", ".pad", "50"], 50, true),
                                  (["pack", "sub dir", "é?.bin"], 120, false)])
        let location = WebSeedLocation(url: "https://h/d")!
        let parts = location.parts(torrentOffset: 100, length: 200, layout: layout, isSingleFile: false)
        #expect(parts == [
            .fetch(url: "https://h/d/pack/a.bin", fileOffset: 100, length: 50),
            .zeros(length: 50),
            .fetch(url: "https://h/d/pack/sub%20dir/%C3%A9%3F.bin", fileOffset: 0, length: 100),
        ])
        // Clamped to the torrent.
        #expect(location.parts(torrentOffset: 300, length: 1000, layout: layout, isSingleFile: false).map(\.length) == [20])
    }
}
