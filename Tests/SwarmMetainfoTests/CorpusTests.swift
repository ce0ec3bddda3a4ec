import Foundation
import SwarmMetainfo
import Testing

/// One entry of Corpus/manifest.json (written by make_corpus.py).
struct CorpusCase: Decodable, Sendable, CustomTestStringConvertible {
    let file: String
    let expect: String
    let code: String?
    let name: String?
    let files: [[FileEntry]]?
    let pieceCount: Int?
    let infoHash: String?
    let `private`: Bool?
    let trackers: [[String]]?
    let webSeeds: [String]?

    /// `[path, length]` in the manifest.
    enum FileEntry: Decodable, Sendable, Equatable {
        case path(String)
        case length(Int64)
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let length = try? container.decode(Int64.self) {
                self = .length(length)
            } else {
                self = .path(try container.decode(String.self))
            }
        }
    }

    var testDescription: String { file }

    static func load() throws -> [CorpusCase] {
        guard let url = Bundle.module.url(forResource: "Corpus", withExtension: nil) else { return [] }
        let data = try Data(contentsOf: url.appendingPathComponent("manifest.json"))
        return try JSONDecoder().decode([CorpusCase].self, from: data)
    }

    var path: String {
        Bundle.module.url(forResource: "Corpus", withExtension: nil)?.appendingPathComponent(file).path ?? file
    }
}

@Suite("Malformed and edge-case corpus")
struct CorpusTests {
    @Test("the corpus is present and non-trivial")
    func present() throws {
        let cases = try CorpusCase.load()
        #expect(cases.count >= 40)
        #expect(cases.contains { $0.expect == "ok" } && cases.contains { $0.expect == "error" })
    }

    @Test("each corpus file gives its expected outcome", arguments: try CorpusCase.load())
    func outcome(_ entry: CorpusCase) throws {
        let clock = ContinuousClock()
        let start = clock.now
        defer { #expect(clock.now - start < .seconds(1), "\(entry.file) took too long") }
        switch entry.expect {
        case "ok":
            let metainfo = try Metainfo(contentsOf: entry.path)
            #expect(metainfo.name == entry.name)
            let files = metainfo.userFiles.map { [CorpusCase.FileEntry.path($0.joinedPath), .length($0.length)] }
            #expect(files == entry.files)
            #expect(metainfo.layout.pieceCount == entry.pieceCount)
            if let hash = entry.infoHash { #expect(metainfo.infoHash.hex == hash) }
            #expect(metainfo.isPrivate == entry.private)
            #expect(metainfo.trackers == entry.trackers)
            #expect(metainfo.webSeeds == entry.webSeeds)
        default:
            do {
                let metainfo = try Metainfo(contentsOf: entry.path)
                Issue.record("\(entry.file) parsed as \(metainfo.name), expected \(entry.code ?? "?")")
            } catch {
                #expect(error.code == entry.code, "\(entry.file): \(error)")
                #expect(error.description.contains(entry.file), "the message names the file")
            }
        }
    }
}
