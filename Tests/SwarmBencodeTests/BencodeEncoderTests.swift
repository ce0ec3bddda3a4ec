import SwarmBencode
import Testing

@Suite("Bencode encoder")
struct BencodeEncoderTests {
    @Test("writes canonical output with keys sorted by raw bytes")
    func canonical() {
        let value: BencodeValue = ["zeta": 1, "alpha": ["x", -7], "Beta": .bytes([0, 255])]
        let encoded = String(decoding: BencodeEncoder.encode(value), as: UTF8.self)
        #expect(encoded == "d4:Beta2:\u{0}\u{FFFD}5:alphal1:xi-7ee4:zetai1ee")
        #expect(BencodeEncoder.encode(.integer(.min)) == Array("i-9223372036854775808e".utf8))
        #expect(BencodeEncoder.encode(.list([])) == Array("le".utf8))
        #expect(BencodeEncoder.encode(.dictionary([])) == Array("de".utf8))
    }

    @Test("canonical input survives decode then encode byte for byte")
    func roundTripBytes() throws {
        let inputs = ["i0e", "i-1e", "0:", "4:spam", "le", "de", "ll1:aed1:bi2eee",
                      "d1:ad1:bl1:ci-3eee1:zi0ee", "d8:announce3:url4:infod6:lengthi5eee"]
        for input in inputs {
            let decoded = try BencodeDecoder.decode(Array(input.utf8))
            #expect(BencodeEncoder.encode(decoded) == Array(input.utf8), "\(input)")
        }
    }

    @Test("values survive encode then decode (keys come back sorted)")
    func roundTripValues() throws {
        let value: BencodeValue = ["b": [1, 2, ["deep": "x"]], "a": .bytes(Array(0...255)), "c": .integer(.max)]
        let decoded = try BencodeDecoder.decode(BencodeEncoder.encode(value))
        #expect(decoded["a"] == value["a"])
        #expect(decoded["b"] == value["b"])
        #expect(decoded["c"] == value["c"])
        #expect(decoded.dictionary?.map(\.keyString) == ["a", "b", "c"])
    }
}
