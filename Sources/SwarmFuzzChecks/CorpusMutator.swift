import SwarmMetainfo
/// A seeded, coverage-blind mutator over a corpus: the fuzz run that fits in every CI run.
///
/// libFuzzer (the package in `Tests/Fuzz`, `scripts/fuzz`) needs a sanitizer build of the whole
/// dependency tree, which took 31 minutes on this 2-core machine; this mutator runs inside the
/// ordinary test build instead. It applies libFuzzer's cheap mutations (bit flips, byte sets,
/// interesting integers, insertions, deletions, block copies, splices of two inputs) to the
/// corpus, so every input it makes is reproducible from (seed, iteration).
public struct CorpusMutator: Sendable {
    private var generator: SplitMix64
    private let corpus: [[UInt8]]
    /// The longest input it makes (the wire and tracker parsers read at most a few KiB anyway).
    public let maxLength: Int

    /// `corpus` must not be empty; `seed` fixes the whole sequence of inputs.
    public init(corpus: [[UInt8]], seed: UInt64, maxLength: Int = 64 * 1024) {
        self.corpus = corpus.isEmpty ? [[]] : corpus
        generator = SplitMix64(seed: seed)
        self.maxLength = max(1, maxLength)
    }

    /// The next input: one corpus entry with one to four mutations applied.
    public mutating func next() -> [UInt8] {
        var input = corpus[below(corpus.count)]
        for _ in 0...below(4) { mutate(&input) }
        if input.count > maxLength { input.removeLast(input.count - maxLength) }
        return input
    }

    private static let interesting: [UInt64] = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
                                                0x7fff_ffff, 0x8000_0000, 0xffff_ffff, UInt64(Int64.max),
                                                UInt64.max, 16384, 16385, 1 << 20]
    private static let tokens: [[UInt8]] = ["i", "e", "l", "d", "0:", "4:", ":", "-", "9223372036854775807",
                                            "99999999999999999999", "length", "pieces", "piece length",
                                            "files", "path", "name", "info", "peers", "interval",
                                            "%", "&", "=", "xt=urn:btih:", "magnet:?"].map { Array($0.utf8) }

    private mutating func mutate(_ input: inout [UInt8]) {
        switch below(9) {
        case 0 where !input.isEmpty:
            input[below(input.count)] ^= UInt8(1) << UInt8(below(8))
        case 1 where !input.isEmpty:
            input[below(input.count)] = UInt8(truncatingIfNeeded: random())
        case 2 where !input.isEmpty:
            let value = Self.interesting[below(Self.interesting.count)]
            let width = [1, 2, 4, 8][below(4)]
            let at = below(input.count)
            for i in 0..<width where at + i < input.count {
                input[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(width - 1 - i)))
            }
        case 3:
            let token = Self.tokens[below(Self.tokens.count)]
            input.insert(contentsOf: token, at: below(input.count + 1))
        case 4 where !input.isEmpty:
            let start = below(input.count)
            input.removeSubrange(start..<min(input.count, start + 1 + below(16)))
        case 5 where !input.isEmpty:
            let start = below(input.count)
            let block = input[start..<min(input.count, start + 1 + below(64))]
            input.insert(contentsOf: block, at: below(input.count + 1))
        case 6:
            let other = corpus[below(corpus.count)]
            guard !other.isEmpty else { return }
            let start = below(other.count)
            let cut = below(input.count + 1)
            input = Array(input[..<cut]) + other[start...]
        case 7 where !input.isEmpty:
            // A decimal number rewritten: lengths and counts are where parsers overflow.
            guard let at = input.indices.first(where: { input[$0] >= 0x30 && input[$0] <= 0x39 && $0 >= below(input.count) })
            else { return }
            var end = at
            while end < input.count, input[end] >= 0x30, input[end] <= 0x39 { end += 1 }
            let replacement = Array(String(Self.interesting[below(Self.interesting.count)]).utf8)
            input.replaceSubrange(at..<end, with: replacement)
        default:
            input.append(UInt8(truncatingIfNeeded: random()))
        }
    }

    private mutating func random() -> UInt64 {
        generator.next()
    }

    private mutating func below(_ bound: Int) -> Int {
        bound <= 1 ? 0 : Int(random() % UInt64(bound))
    }
}
