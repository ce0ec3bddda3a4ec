import SwarmMetainfo
import Testing

@Suite("Bitfield")
struct BitfieldTests {
    @Test("set and clear keep setCount and wire order (high bit first)")
    func setAndClear() {
        var bits = Bitfield(count: 10)
        #expect(bits.wireBytes == [0, 0])
        bits[0] = true
        bits[9] = true
        bits[9] = true
        #expect(bits.setCount == 2)
        #expect(bits.wireBytes == [0x80, 0x40])
        #expect(bits.setIndices == [0, 9])
        bits[0] = false
        bits[0] = false
        #expect(bits.setCount == 1)
        #expect(!bits[0] && bits[9])
        #expect(!bits.isComplete)
    }

    @Test("out-of-range indices read false and do not write")
    func outOfRange() {
        var bits = Bitfield(count: 3)
        bits[3] = true
        bits[-1] = true
        #expect(!bits[3] && !bits[-1] && !bits[100])
        #expect(bits.setCount == 0)
    }

    @Test("full bitfields are complete and have zero spare bits")
    func full() throws {
        let bits = Bitfield.full(count: 11)
        #expect(bits.isComplete)
        #expect(bits.setCount == 11)
        #expect(bits.wireBytes == [0xff, 0xe0])
        #expect(try Bitfield(wireBytes: bits.wireBytes, count: 11) == bits)
        #expect(Bitfield.full(count: 0).isComplete)
        #expect(Bitfield.full(count: 16).wireBytes == [0xff, 0xff])
    }

    @Test("wire bytes must have the right length and clear spare bits")
    func wireValidation() throws {
        #expect(throws: BitfieldError.wrongLength(expected: 2, actual: 1)) {
            try Bitfield(wireBytes: [0xff], count: 10)
        }
        #expect(throws: BitfieldError.wrongLength(expected: 2, actual: 3)) {
            try Bitfield(wireBytes: [0, 0, 0], count: 16)
        }
        #expect(throws: BitfieldError.spareBitsSet) {
            try Bitfield(wireBytes: [0xff, 0x60], count: 10)
        }
        let parsed = try Bitfield(wireBytes: [0b1010_0000, 0b1100_0000], count: 10)
        #expect(parsed.setCount == 4)
        #expect(parsed.setIndices == [0, 2, 8, 9])
    }
}
