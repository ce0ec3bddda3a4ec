import SwarmMetainfo
import Testing

@Suite("Refusals of hostile torrents")
struct HostileErrorSentenceTests {
    @Test("each refusal is one sentence that names the problem")
    func sentences() {
        let cases: [(MetainfoError, String)] = [
            (.sizeOverflow("piece length 16384 × piece count 562949953421312"), "overflow"),
            (.emptyName, "name"), (.emptyTorrent, "length"),
        ]
        for (error, topic) in cases {
            let wrapped = MetainfoError.inFile(path: "/tmp/t.torrent", underlying: error)
            #expect(wrapped.description.hasPrefix("/tmp/t.torrent: "))
            #expect(error.description.contains(topic) && !error.description.contains("\n"))
        }
    }
}
