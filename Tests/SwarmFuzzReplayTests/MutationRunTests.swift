import Foundation
import SwarmFuzzChecks
import Testing

/// A short fuzz run in every test run: each parser gets the corpus mutated by a seeded mutator
/// (`CorpusMutator`) and must keep its invariants. The seed is fixed, so a failure names an input
/// that the next run makes again; `SWARMFS_FUZZ_ITERATIONS` sets the inputs per target (CI's fuzz
/// step raises it) and `SWARMFS_FUZZ_SEED` picks another sequence.
@Suite struct MutationRunTests {
    static let iterations = ProcessInfo.processInfo.environment["SWARMFS_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 2_000
    static let seed = ProcessInfo.processInfo.environment["SWARMFS_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5357_4152_4D46_53

    @Test(arguments: FuzzTarget.allCases)
    func mutatedCorpusKeepsTheInvariants(target: FuzzTarget) throws {
        let corpus = try CorpusReplayTests.inputs(of: target).map { try [UInt8](Data(contentsOf: $0)) }
        #expect(!corpus.isEmpty)
        var mutator = CorpusMutator(corpus: corpus, seed: Self.seed &+ UInt64(target.rawValue.utf8.count))
        for iteration in 0..<Self.iterations {
            let input = mutator.next()
            do {
                try target.check(input)
            } catch {
                let hex = input.prefix(512).map { String(format: "%02x", $0) }.joined()
                Issue.record("\(error) — iteration \(iteration), seed \(Self.seed), input (\(input.count) bytes, hex prefix): \(hex)")
                return
            }
        }
    }
}
