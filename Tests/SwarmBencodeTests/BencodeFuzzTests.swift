import SwarmBencode
import SwarmMetainfo
import Testing


/// Builds a random value tree of bounded size.
func randomValue(depth: Int, using rng: inout SplitMix64) -> BencodeValue {
    switch (depth > 3 ? Int.random(in: 0...1, using: &rng) : Int.random(in: 0...3, using: &rng)) {
    case 0: return .integer(Int64.random(in: Int64.min...Int64.max, using: &rng) >> Int64.random(in: 0...63, using: &rng))
    case 1: return .bytes((0..<Int.random(in: 0...12, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
    case 2: return .list((0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(depth: depth + 1, using: &rng) })
    default:
        var keys = Set<[UInt8]>()
        var entries: [BencodeDictionaryEntry] = []
        for _ in 0..<Int.random(in: 0...4, using: &rng) {
            let key = (0..<Int.random(in: 0...4, using: &rng)).map { _ in UInt8.random(in: 97...100, using: &rng) }
            if keys.insert(key).inserted {
                entries.append(BencodeDictionaryEntry(key: key, value: randomValue(depth: depth + 1, using: &rng)))
            }
        }
        return .dictionary(entries)
    }
}

/// `value` with every dictionary's entries sorted, as the encoder writes them.
func canonicalised(_ value: BencodeValue) -> BencodeValue {
    switch value {
    case .integer, .bytes: value
    case let .list(elements): .list(elements.map(canonicalised))
    case let .dictionary(entries):
        .dictionary(entries.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            .map { BencodeDictionaryEntry(key: $0.key, value: canonicalised($0.value)) })
    }
}

@Suite("Bencode fuzz")
struct BencodeFuzzTests {
    @Test("random values round-trip through encode and decode")
    func randomRoundTrips() throws {
        var rng = SplitMix64(seed: 0x5EED_0001)
        for _ in 0..<2_000 {
            let value = randomValue(depth: 0, using: &rng)
            let encoded = BencodeEncoder.encode(value)
            let decoded = try BencodeDecoder.decode(encoded)
            #expect(decoded == canonicalised(value))
            #expect(BencodeEncoder.encode(decoded) == encoded)
        }
    }

    @Test("random bytes and mutated encodings return or throw, never trap")
    func mutations() {
        var rng = SplitMix64(seed: 0x5EED_0002)
        let alphabet = Array("0123456789ilde:-".utf8)
        var accepted = 0
        for round in 0..<20_000 {
            var input: [UInt8]
            if round % 2 == 0 {
                input = (0..<Int.random(in: 0...40, using: &rng)).map { _ in
                    Bool.random(using: &rng) ? alphabet.randomElement(using: &rng) ?? 0 : UInt8.random(in: 0...255, using: &rng)
                }
            } else {
                input = BencodeEncoder.encode(randomValue(depth: 0, using: &rng))
                for _ in 0..<Int.random(in: 1...3, using: &rng) where !input.isEmpty {
                    let index = Int.random(in: 0..<input.count, using: &rng)
                    switch Int.random(in: 0...2, using: &rng) {
                    case 0: input[index] = alphabet.randomElement(using: &rng) ?? 0
                    case 1: input.remove(at: index)
                    default: input.insert(UInt8.random(in: 0...255, using: &rng), at: index)
                    }
                }
            }
            do {
                let value = try BencodeDecoder.decode(input)
                accepted += 1
                // Whatever is accepted must re-encode to something that decodes to the same value.
                #expect(try BencodeDecoder.decode(BencodeEncoder.encode(value)) == canonicalised(value))
            } catch {
                #expect(error.offset >= 0 && error.offset <= input.count)
            }
        }
        #expect(accepted > 0)
    }
}
