import SwarmDHT
import SwarmMetainfo
import Testing

@Suite("NodeID and CRC32C")
struct NodeIDTests {
    @Test("CRC32C matches its check value and RFC 3720's vectors")
    func crc32c() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xff, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test("20 bytes in, the same 20 out; anything else refused")
    func bytes() {
        let raw = (0..<20).map { UInt8($0 * 13 + 1) }
        #expect(NodeID(bytes: raw)?.bytes == raw)
        #expect(NodeID(bytes: raw.dropLast()) == nil)
        #expect(NodeID(bytes: raw + [0]) == nil)
        #expect(NodeID(infoHash: InfoHash(bytes: raw)!).bytes == raw)
        #expect(NodeID(hex: "0123456789abcdef0123456789abcdef01234567").description == "0123456789abcdef0123456789abcdef01234567")
    }

    @Test("XOR distance orders ids as unsigned 160-bit numbers")
    func distance() {
        let a = NodeID(hex: "00000000000000000000000000000000000000ff")
        let b = NodeID(hex: "8000000000000000000000000000000000000000")
        let c = NodeID(hex: "0000000000000000000000010000000000000000")
        #expect(a.distance(to: a) == .zero)
        #expect(a.distance(to: b) == b.distance(to: a))
        #expect(a.distance(to: b) == NodeID(hex: "80000000000000000000000000000000000000ff"))
        #expect(a < c && c < b, "the low word counts least")
        #expect(a.distance(to: .zero) < c.distance(to: .zero))
        var generator = SplitMix64(seed: 1)
        for _ in 0..<200 {
            let x = NodeID.random(using: &generator), y = NodeID.random(using: &generator), z = NodeID.random(using: &generator)
            #expect(x.distance(to: y).distance(to: y.distance(to: z)) == x.distance(to: z), "XOR is associative")
            #expect((x < y) == x.bytes.lexicographicallyPrecedes(y.bytes))
        }
    }

    @Test("common prefix length counts shared leading bits across the words")
    func commonPrefix() {
        let zero = NodeID.zero
        #expect(zero.commonPrefixLength(with: zero) == 160)
        #expect(zero.commonPrefixLength(with: NodeID(hex: "8000000000000000000000000000000000000000")) == 0)
        #expect(zero.commonPrefixLength(with: NodeID(hex: "0100000000000000000000000000000000000000")) == 7)
        #expect(zero.commonPrefixLength(with: NodeID(hex: "0000000000000000800000000000000000000000")) == 64)
        #expect(zero.commonPrefixLength(with: NodeID(hex: "0000000000000000000000000000000080000000")) == 128)
        #expect(zero.commonPrefixLength(with: NodeID(hex: "0000000000000000000000000000000000000001")) == 159)
        let id = NodeID(hex: "a0000000000000000000000000000000000000ff")
        #expect(id.bit(0) && !id.bit(1) && id.bit(2) && id.bit(159) && !id.bit(160) && !id.bit(-1))
    }

    @Test("a random id can share a prefix and flip the next bit")
    func sharingPrefix() {
        var generator = SplitMix64(seed: 7)
        let own = NodeID.random(using: &generator)
        for length in [0, 1, 7, 63, 64, 65, 127, 128, 129, 158, 159] {
            let inside = own.random(sharingPrefix: length, flipNext: true, using: &generator)
            #expect(own.commonPrefixLength(with: inside) == length)
            let deeper = own.random(sharingPrefix: length, flipNext: false, using: &generator)
            #expect(own.commonPrefixLength(with: deeper) > length)
        }
        #expect(own.random(sharingPrefix: 160, flipNext: true, using: &generator) == own)
        #expect(own.random(sharingPrefix: 500, flipNext: false, using: &generator) == own)
    }
}

@Suite("BEP 42 node ids")
struct BEP42Tests {
    /// BEP 42's test vectors: IP, rand, the example node id (only the first 21 bits and the last
    /// byte matter).
    static let vectors: [(String, UInt8, String)] = [
        ("124.31.75.21", 1, "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401"),
        ("21.75.31.124", 86, "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256"),
        ("65.23.51.170", 22, "a5d43220bc8f112a3d426c84764f8c2a1150e616"),
        ("84.124.73.14", 65, "1b0321dd1bb1fe518101ceef99462b947a01ff41"),
        ("43.213.53.83", 90, "e56f6cbf5b7c4be0237986d5243b87aa6d51305a"),
    ]

    @Test("the BEP 42 example ids are valid for their addresses, and only for them", arguments: 0..<5)
    func examplesValidate(index: Int) throws {
        let (text, _, hex) = Self.vectors[index]
        let ip = try #require(IPAddress(text: text))
        let id = NodeID(hex: hex)
        #expect(id.isBEP42Valid(for: ip))
        let other = try #require(IPAddress(text: Self.vectors[(index + 1) % 5].0))
        #expect(!id.isBEP42Valid(for: other))
        let mapped = try #require(IPAddress(text: "::ffff:" + text))
        #expect(id.isBEP42Valid(for: mapped), "an IPv4-mapped address counts as the IPv4 one")
    }

    @Test("generating from the BEP 42 IP and rand gives the vectors' prefixes", arguments: 0..<5)
    func generation(index: Int) throws {
        let (text, rand, hex) = Self.vectors[index]
        let ip = try #require(IPAddress(text: text))
        var generator = SplitMix64(seed: UInt64(index))
        let id = NodeID.secure(for: ip, rand: rand, using: &generator)
        let expected = NodeID(hex: hex).bytes
        #expect(Array(id.bytes.prefix(2)) == Array(expected.prefix(2)))
        #expect(id.bytes[2] & 0xf8 == expected[2] & 0xf8)
        #expect(id.bytes[19] == rand)
        #expect(id.isBEP42Valid(for: ip))
    }

    @Test("IPv6 ids use the high 64 bits; random ids are almost never valid")
    func ipv6() throws {
        var generator = SplitMix64(seed: 42)
        let ip = try #require(IPAddress(text: "2001:db8:1234:5678:9abc::1"))
        let id = NodeID.secure(for: ip, using: &generator)
        #expect(id.isBEP42Valid(for: ip))
        #expect(id.isBEP42Valid(for: try #require(IPAddress(text: "2001:db8:1234:5678:ffff::2"))), "the low 64 bits do not count")
        #expect(!id.isBEP42Valid(for: try #require(IPAddress(text: "2001:db9:1234:5678:9abc::1"))))
        var valid = 0
        for _ in 0..<1000 where NodeID.random(using: &generator).isBEP42Valid(for: ip) { valid += 1 }
        #expect(valid <= 2, "21 bits: about one in two million")
    }

    @Test("local-network addresses are exempt",
          arguments: ["10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.3.4", "127.0.0.1",
                      "::1", "fe80::1", "fd00::5", "::ffff:192.168.0.1"])
    func exempt(text: String) throws {
        let ip = try #require(IPAddress(text: text))
        #expect(ip.isBEP42Exempt)
        #expect(NodeID.zero.isBEP42Valid(for: ip))
    }

    @Test("public addresses are not exempt", arguments: ["172.32.0.1", "172.15.0.1", "8.8.8.8", "192.169.0.1", "2001:db8::1", "::2"])
    func notExempt(text: String) throws {
        #expect(!(try #require(IPAddress(text: text))).isBEP42Exempt)
    }
}
