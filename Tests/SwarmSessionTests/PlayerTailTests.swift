@testable import SwarmSession
import SwarmMetainfo
import Testing

@Suite("The end of a media file, fetched from its open on")
struct PlayerTailTests {
    private static let MiB: Int64 = 1 << 20

    private static func layout(_ files: [(String, Int64)], pieceLength: Int = 1 << 20) -> FileLayout {
        FileLayout(pieceLength: pieceLength, files: files.map { (path: ["t", $0.0], length: $0.1, isPadding: false) })
    }

    @Test("the last 0.2 % of a media file, at least 1 MiB, at most 8 MiB; nothing for other or small files")
    func tails() {
        let layout = Self.layout([("notes.txt", 100 * Self.MiB), ("small.mp4", 3 * Self.MiB),
                                  ("movie.MKV", 135 * Self.MiB), ("long.mp4", 2000 * Self.MiB),
                                  ("huge.mp4", 8000 * Self.MiB)])
        #expect(Foreman.playerTail(of: 0, in: layout) == nil)
        #expect(Foreman.playerTail(of: 1, in: layout) == nil)  // readahead covers it
        // 135 MiB starting at 103 MiB: its last MiB is piece 237.
        #expect(Foreman.playerTail(of: 2, in: layout) == 237..<238)
        // 2000 MiB: 4 MiB of tail, ending at piece 2237.
        #expect(Foreman.playerTail(of: 3, in: layout) == 2234..<2238)
        // 8000 MiB: 16 MiB would be 0.2 %, capped at 8.
        #expect(Foreman.playerTail(of: 4, in: layout)?.count == 8)
        #expect(Foreman.playerTail(of: 5, in: layout) == nil)
    }
}
