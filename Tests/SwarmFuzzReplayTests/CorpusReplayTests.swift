import Foundation
import SwarmFuzzChecks
import Testing

/// Replays every input kept under `Tests/Fuzz/Corpus/<target>/` (seeds and the crashes the fuzzer
/// found) through its parser and invariants, without the fuzzer: a fixed crash stays fixed.
@Suite struct CorpusReplayTests {
    static let corpusRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Corpus")

    static func inputs(of target: FuzzTarget) throws -> [URL] {
        let folder = corpusRoot.appendingPathComponent(target.rawValue)
        return try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test(arguments: FuzzTarget.allCases)
    func corpusInputsKeepTheirInvariants(target: FuzzTarget) throws {
        let files = try Self.inputs(of: target)
        #expect(!files.isEmpty, "no corpus for \(target.rawValue) under \(Self.corpusRoot.path)")
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: file))
            #expect(throws: Never.self, "\(target.rawValue)/\(file.lastPathComponent)") {
                try target.check(bytes)
            }
        }
    }
}
