import SwarmBencode
import Testing

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("Bencode decoder")
struct BencodeDecoderTests {
    @Test("decodes every kind of value")
    func decodesAllKinds() throws {
        let value = try BencodeDecoder.decode(bytes("d3:agei-42e4:listli1e3:twoe4:name4:spame"))
        #expect(value["age"]?.integer == -42)
        #expect(value["name"]?.string == "spam")
        #expect(value["list"]?.list == [.integer(1), .string("two")])
        #expect(value["missing"] == nil)
        #expect(value.dictionary?.map(\.keyString) == ["age", "list", "name"])
    }

    @Test("accepts the extreme 64-bit integers and zero")
    func integerExtremes() throws {
        #expect(try BencodeDecoder.decode(bytes("i9223372036854775807e")) == .integer(.max))
        #expect(try BencodeDecoder.decode(bytes("i-9223372036854775808e")) == .integer(.min))
        #expect(try BencodeDecoder.decode(bytes("i0e")) == .integer(0))
        #expect(try BencodeDecoder.decode(bytes("0:")) == .bytes([]))
    }

    @Test("rejects malformed input with the offset of the problem",
          arguments: [
              ("i-0e", BencodeError.malformedInteger(offset: 0)),
              ("i03e", .malformedInteger(offset: 0)),
              ("ie", .malformedInteger(offset: 0)),
              ("i-e", .malformedInteger(offset: 0)),
              ("i1x2e", .malformedInteger(offset: 0)),
              ("i12", .unexpectedEnd(offset: 3)),
              ("i9223372036854775808e", .integerOverflow(offset: 0)),
              ("i-9223372036854775809e", .integerOverflow(offset: 0)),
              ("i99999999999999999999999e", .integerOverflow(offset: 0)),
              ("03:abc", .malformedStringLength(offset: 0)),
              ("3:ab", .stringPastEnd(length: 3, offset: 0)),
              ("99999999999999999999999:a", .stringPastEnd(length: 99, offset: 0)),
              ("3abc", .malformedStringLength(offset: 0)),
              ("5", .stringPastEnd(length: 5, offset: 0)),
              ("1", .unexpectedEnd(offset: 1)),
              ("l1:a", .unexpectedEnd(offset: 4)),
              ("di1e1:ae", .nonStringKey(offset: 1)),
              ("d1:ai1e1:ai2ee", .duplicateKey(offset: 7)),
              ("d1:bi1e1:ai2e1:bi3ee", .duplicateKey(offset: 19)),
              ("i1ei2e", .trailingData(offset: 3)),
              ("x", .unexpectedByte(UInt8(ascii: "x"), offset: 0)),
              ("", .unexpectedEnd(offset: 0)),
              ("le ", .trailingData(offset: 2)),
          ])
    func rejectsMalformed(input: String, expected: BencodeError) {
        #expect(throws: expected) { try BencodeDecoder.decode(bytes(input)) }
    }

    @Test("stops nesting bombs at the depth limit instead of overflowing the stack")
    func nestingBomb() {
        let deep = [UInt8](repeating: UInt8(ascii: "l"), count: 1_000_000)
            + [UInt8](repeating: UInt8(ascii: "e"), count: 1_000_000)
        #expect(throws: BencodeError.nestingTooDeep(limit: 64, offset: 64)) {
            try BencodeDecoder.decode(deep)
        }
        let ok = [UInt8](repeating: UInt8(ascii: "l"), count: 64) + [UInt8](repeating: UInt8(ascii: "e"), count: 64)
        #expect(throws: Never.self) { try BencodeDecoder.decode(ok) }
    }

    @Test("enforces the input size and element count limits")
    func limits() {
        let decoder = BencodeDecoder(limits: BencodeLimits(maxDepth: 8, maxInputSize: 11, maxElementCount: 3))
        #expect(throws: BencodeError.inputTooLarge(size: 12, limit: 11)) {
            try decoder.decode(bytes("11:abcdefghi"))
        }
        #expect(throws: BencodeError.tooManyElements(limit: 3, offset: 7)) {
            try decoder.decode(bytes("li1ei2ei3ee"))
        }
        #expect(throws: Never.self) { try decoder.decode(bytes("li1ei2ee")) }
    }

    @Test("reports the exact byte range of the top-level info dictionary, unsorted keys kept")
    func infoRange() throws {
        let info = "d4:name1:x3:abci1ee"
        let input = bytes("d8:announce3:url4:info" + info + "4:infoi5ee")
        // A second "info" key is a duplicate and must be rejected, so build a valid one.
        let valid = bytes("d8:announce3:url4:info" + info + "1:zi1ee")
        let document = try BencodeDecoder().decodeDocument(valid)
        let range = try #require(document.infoRange)
        #expect(Array(valid[range]) == bytes(info))
        #expect(document.value["info"]?.dictionary?.map(\.keyString) == ["name", "abc"])
        #expect(throws: BencodeError.duplicateKey(offset: 41)) { try BencodeDecoder.decode(input) }
    }

    @Test("an info key below the top level is not the info dictionary")
    func nestedInfoIgnored() throws {
        let document = try BencodeDecoder().decodeDocument(bytes("d1:ad4:infoi1eee"))
        #expect(document.infoRange == nil)
    }

    @Test("decodePrefix leaves trailing payload alone (BEP 9 data messages)")
    func prefix() throws {
        let input = bytes("d8:msg_typei1e5:piecei0ee") + [0xde, 0xad, 0xbe, 0xef]
        let document = try BencodeDecoder().decodePrefix(input)
        #expect(document.consumed == input.count - 4)
        #expect(document.value["piece"]?.integer == 0)
    }

    @Test("accessors return nil for the wrong kind")
    func accessors() {
        let value: BencodeValue = ["n": 1, "s": "x", "bad": .bytes([0xff, 0xfe])]
        #expect(value["n"]?.string == nil)
        #expect(value["s"]?.integer == nil)
        #expect(value["bad"]?.string == nil)
        #expect(value["bad"]?.bytes == [0xff, 0xfe])
        #expect(BencodeValue.integer(1)["key"] == nil)
        #expect(BencodeValue.integer(1).list == nil)
    }
}
