import SwarmBencode
import SwarmMetainfo
import Testing


@Suite("Metainfo and magnet fuzz")
struct MetainfoFuzzTests {
    static let seedTorrent: [UInt8] = BencodeEncoder.encode([
        "announce": "http://127.0.0.1:1/announce",
        "info": [
            "name": "fuzz", "piece length": 16, "pieces": .bytes(Array(repeating: 1, count: 60)),
            "files": [["length": 20, "path": ["a", "b"]], ["length": 0, "path": ["e"]],
                      ["length": 12, "path": ["c"], "attr": "p"], ["length": 10, "path": ["d"]]],
        ],
    ])

    @Test("mutated torrents parse or throw, and parsed ones have consistent geometry")
    func mutatedTorrents() throws {
        #expect(throws: Never.self) { try Metainfo(bytes: Self.seedTorrent) }
        var rng = SplitMix64(seed: 0xF022_0001)
        let interesting = Array("0123456789ilde:-".utf8)
        var parsed = 0
        for _ in 0..<20_000 {
            var input = Self.seedTorrent
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let index = Int.random(in: 0..<input.count, using: &rng)
                switch Int.random(in: 0...3, using: &rng) {
                case 0: input[index] = interesting.randomElement(using: &rng) ?? 0
                case 1: input[index] = UInt8.random(in: 0...255, using: &rng)
                case 2: input.remove(at: index)
                default: input.insert(interesting.randomElement(using: &rng) ?? 0, at: index)
                }
            }
            guard let metainfo = try? Metainfo(bytes: input) else { continue }
            parsed += 1
            let layout = metainfo.layout
            #expect(metainfo.pieceHashes.count == layout.pieceCount * 20)
            #expect(layout.pieceLength >= 1)
            for piece in 0..<min(layout.pieceCount, 8) {
                #expect(layout.slices(piece: piece).reduce(0) { $0 + $1.length } == layout.pieceSize(piece))
            }
            for file in metainfo.userFiles {
                #expect(!file.path.contains { $0.isEmpty || $0 == "." || $0 == ".." || $0.contains("/") })
            }
        }
        #expect(parsed > 0)
    }

    @Test("every proper prefix of a valid torrent is rejected as bencode")
    func truncations() {
        for length in 0..<Self.seedTorrent.count {
            do {
                _ = try Metainfo(bytes: Array(Self.seedTorrent[0..<length]))
                Issue.record("prefix of \(length) bytes parsed")
            } catch {
                #expect(error.code == "invalidBencode")
            }
        }
    }

    @Test("random magnet-like strings parse or throw")
    func magnets() {
        var rng = SplitMix64(seed: 0xF022_0002)
        let pieces = ["magnet:?", "xt=urn:btih:", "&", "=", "%", "%4", "%zz", "dn=", "tr=", "xl=", "x.pe=",
                      "c12fe1c06bba254a9dc9f519b335aa7c1367a88a", "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT", "-1", "+", "\u{0}"]
        for _ in 0..<10_000 {
            let text = (0..<Int.random(in: 0...8, using: &rng)).map { _ in pieces.randomElement(using: &rng) ?? "" }.joined()
            if let link = try? MagnetLink(parsing: text) {
                #expect(link.infoHash.bytes.count == 20)
            }
        }
    }
}
