import SwarmBencode
import SwarmMetainfo
import Testing

@Suite("BEP 9 metadata assembly")
struct MetadataAssemblerTests {
    /// A real info dictionary of a little over two pieces (16 KiB + 16 KiB + the rest).
    static let info: [UInt8] = BencodeEncoder.encode([
        "length": 32_735_132, "name": "metadata.bin", "piece length": 16384,
        "pieces": .bytes((0..<39960).map { UInt8(truncatingIfNeeded: $0 &* 31) }),
    ])
    static let infoHash = InfoHash.sha1(of: info)

    /// A manual clock: time moves only when a test says so.
    struct ManualClock {
        private(set) var now = ContinuousClock.now
        mutating func advance(by duration: Duration) { now = now.advanced(by: duration) }
    }

    static func piece(_ index: Int, of bytes: [UInt8] = info) -> [UInt8] {
        Array(bytes[(index * 16384)..<min(bytes.count, (index + 1) * 16384)])
    }

    @Test("the layout cuts 16 KiB pieces, the last one shorter, and bounds the size")
    func layout() throws {
        let layout = try MetadataLayout(totalSize: 40_000)
        #expect(layout.pieceCount == 3)
        #expect(layout.length(ofPiece: 0) == 16384 && layout.length(ofPiece: 2) == 40_000 - 32768)
        #expect(layout.range(ofPiece: 1) == 16384..<32768)
        #expect(layout.length(ofPiece: 3) == nil && layout.length(ofPiece: -1) == nil)
        #expect(try MetadataLayout(totalSize: 16384).pieceCount == 1)
        #expect(try MetadataLayout(totalSize: Int64(MetadataLayout.maxTotalSize)).pieceCount == MetadataLayout.maxPieceCount)
        for size: Int64 in [0, -1, Int64(MetadataLayout.maxTotalSize) + 1, .max, .min] {
            #expect(throws: MetadataError.sizeOutOfRange(size: size, limit: MetadataLayout.maxTotalSize)) {
                try MetadataLayout(totalSize: size)
            }
        }
    }

    @Test("two peers fetch different pieces, each up to its cap, and the whole verifies")
    func twoPeersComplete() throws {
        #expect(Self.info.count > 32768 && Self.info.count < 49152)
        var clock = ManualClock()
        var assembler = try MetadataAssembler<String>(infoHash: Self.infoHash, totalSize: Int64(Self.info.count),
                                                      maxOutstandingPerPeer: 2)
        #expect(assembler.requests(for: "a", now: clock.now) == [0, 1])
        #expect(assembler.requests(for: "a", now: clock.now) == [], "a has no free slot")
        #expect(assembler.requests(for: "b", now: clock.now) == [2])
        clock.advance(by: .seconds(1))
        #expect(try assembler.received(piece: 2, totalSize: Int64(Self.info.count), data: Self.piece(2), from: "b") == .stored)
        #expect(assembler.requests(for: "b", now: clock.now) == [], "nothing left to hand out")
        #expect(assembler.contributor(ofPiece: 2) == "b" && assembler.contributor(ofPiece: 0) == nil)
        #expect(assembler.contributor(ofPiece: 3) == nil && assembler.contributor(ofPiece: -1) == nil)
        #expect(try assembler.received(piece: 0, totalSize: Int64(Self.info.count), data: Self.piece(0), from: "a") == .stored)
        let last = try assembler.received(piece: 1, totalSize: Int64(Self.info.count), data: Self.piece(1), from: "a")
        #expect(last == .complete(infoDictionary: Self.info))
        #expect(assembler.isComplete && assembler.verified == Self.info)
        #expect(try Metainfo(infoDictionary: Self.info).infoHash == Self.infoHash)
        #expect(assembler.requests(for: "c", now: clock.now) == [])
    }

    @Test("a whole that does not hash to the info-hash is dropped and its contributors named")
    func mismatch() throws {
        var forged = Self.info
        forged[20_000] ^= 0xff
        var assembler = try MetadataAssembler<Int>(infoHash: Self.infoHash, totalSize: Int64(Self.info.count),
                                                   maxOutstandingPerPeer: 1)
        let now = ContinuousClock.now
        for peer in 0..<3 {
            let pieces = assembler.requests(for: peer, now: now)
            #expect(pieces == [peer])
        }
        #expect(try assembler.received(piece: 0, totalSize: Int64(forged.count), data: Self.piece(0, of: forged), from: 0) == .stored)
        #expect(try assembler.received(piece: 1, totalSize: Int64(forged.count), data: Self.piece(1, of: forged), from: 1) == .stored)
        let result = try assembler.received(piece: 2, totalSize: Int64(forged.count), data: Self.piece(2, of: forged), from: 2)
        #expect(result == .verificationFailed(contributors: [0, 1, 2]))
        #expect(!assembler.isComplete && assembler.receivedCount == 0)
        #expect(assembler.requests(for: 5, now: now) == [0], "fetching starts over")
    }

    @Test("wrong sizes, unknown pieces and unrequested blocks are refused and change nothing")
    func hostileBlocks() throws {
        let total = Int64(Self.info.count)
        var assembler = try MetadataAssembler<Int>(infoHash: Self.infoHash, totalSize: total)
        _ = assembler.requests(for: 1, now: .now)
        #expect(throws: MetadataError.wrongBlockLength(piece: 0, length: 16383, expected: 16384)) {
            try assembler.received(piece: 0, totalSize: total, data: Array(Self.piece(0).dropLast()), from: 1)
        }
        #expect(throws: MetadataError.wrongBlockLength(piece: 2, length: 16384, expected: Self.info.count - 32768)) {
            try assembler.received(piece: 2, totalSize: total, data: [UInt8](repeating: 0, count: 16384), from: 1)
        }
        #expect(throws: MetadataError.pieceOutOfRange(piece: 3, pieceCount: 3)) {
            try assembler.received(piece: 3, totalSize: total, data: [1], from: 1)
        }
        #expect(throws: MetadataError.pieceOutOfRange(piece: -1, pieceCount: 3)) {
            try assembler.received(piece: -1, totalSize: total, data: [1], from: 1)
        }
        #expect(throws: MetadataError.pieceOutOfRange(piece: .max, pieceCount: 3)) {
            try assembler.received(piece: .max, totalSize: total, data: [1], from: 1)
        }
        #expect(throws: MetadataError.totalSizeMismatch(stated: total + 1, expected: Self.info.count)) {
            try assembler.received(piece: 0, totalSize: total + 1, data: Self.piece(0), from: 1)
        }
        #expect(throws: MetadataError.notRequested(piece: 0)) {
            try assembler.received(piece: 0, totalSize: total, data: Self.piece(0), from: 2)
        }
        #expect(assembler.receivedCount == 0 && assembler.outstandingPieces(at: 1) == [0, 1, 2])
        #expect(try assembler.received(piece: 0, totalSize: total, data: Self.piece(0), from: 1) == .stored)
        #expect(throws: MetadataError.notRequested(piece: 0), "a second copy of a piece is not taken") {
            try assembler.received(piece: 0, totalSize: total, data: Self.piece(0), from: 1)
        }
        #expect(throws: MetadataError.sizeOutOfRange(size: 33_554_433, limit: MetadataLayout.maxTotalSize)) {
            try MetadataAssembler<Int>(infoHash: Self.infoHash, totalSize: 33_554_433)
        }
    }

    @Test("unanswered requests time out by the clock and go to another peer")
    func timeouts() throws {
        var clock = ManualClock()
        var assembler = try MetadataAssembler<String>(infoHash: Self.infoHash, totalSize: Int64(Self.info.count),
                                                      maxOutstandingPerPeer: 2, requestTimeout: .seconds(20))
        #expect(assembler.requests(for: "slow", now: clock.now) == [0, 1])
        clock.advance(by: .seconds(10))
        #expect(assembler.requests(for: "quick", now: clock.now) == [2])
        clock.advance(by: .seconds(9))
        #expect(assembler.expireRequests(now: clock.now).isEmpty, "19 s is not 20")
        clock.advance(by: .seconds(1))
        let expired = assembler.expireRequests(now: clock.now)
        #expect(expired.map(\.peer) == ["slow", "slow"] && expired.map(\.piece) == [0, 1])
        #expect(assembler.requests(for: "quick", now: clock.now) == [0], "quick has one free slot")
        clock.advance(by: .seconds(10))
        #expect(assembler.expireRequests(now: clock.now).map(\.piece) == [2])
    }

    @Test("a peer that rejects gets no more requests; a peer that leaves frees its pieces")
    func rejectAndLeave() throws {
        var assembler = try MetadataAssembler<String>(infoHash: Self.infoHash, totalSize: Int64(Self.info.count),
                                                      maxOutstandingPerPeer: 2)
        let now = ContinuousClock.now
        #expect(assembler.requests(for: "a", now: now) == [0, 1])
        assembler.rejected(piece: 0, by: "a")
        #expect(assembler.outstandingPieces(at: "a") == [1])
        #expect(assembler.requests(for: "a", now: now) == [], "a said it has no metadata")
        #expect(assembler.requests(for: "b", now: now) == [0, 2])
        assembler.peerGone("b")
        #expect(assembler.outstandingPieces(at: "b") == [])
        assembler.rejected(piece: 99, by: "c")  // out of range: harmless
        #expect(assembler.requests(for: "c", now: now) == [])
        #expect(assembler.requests(for: "d", now: now) == [0, 2])
    }
}
