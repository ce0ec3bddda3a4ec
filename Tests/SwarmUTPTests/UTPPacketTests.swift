import SwarmUTP
import Testing

@Suite("uTP packet codec")
struct UTPPacketTests {
    @Test("a packet survives encoding and parsing, selective ack and payload included")
    func roundTrip() throws {
        let packet = UTPPacket(kind: .state, connectionID: 0xbeef, timestamp: 0x0102_0304, timestampDifference: 0xa0b0_c0d0,
                               windowSize: 1 << 20, sequenceNumber: 0xfffe, ackNumber: 7,
                               selectiveAck: [0b0000_0101, 0, 0, 0x80], payload: [1, 2, 3])
        let bytes = packet.encoded
        #expect(bytes.count == packet.encodedLength)
        #expect(bytes[0] == 0x21)
        let parsed = try UTPPacket.parse(bytes)
        #expect(parsed == packet)
        #expect(parsed.selectivelyAcks(9))
        #expect(!parsed.selectivelyAcks(10))
        #expect(parsed.selectivelyAcks(11))
        #expect(parsed.selectivelyAcks(9 + 31))
        #expect(!parsed.selectivelyAcks(7))
        #expect(!parsed.selectivelyAcks(8))
        #expect(!parsed.selectivelyAcks(9 + 32))
    }

    @Test("the header of BEP 29's example layout, byte by byte")
    func headerLayout() {
        let bytes = UTPPacket(kind: .syn, connectionID: 0x0102, timestamp: 0x0304_0506, timestampDifference: 0x0708_090a,
                              windowSize: 0x0b0c_0d0e, sequenceNumber: 0x0f10, ackNumber: 0x1112).encoded
        #expect(bytes == [0x41, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18])
    }

    @Test("malformed datagrams are refused with the reason")
    func refusals() {
        let good = UTPPacket(kind: .data, connectionID: 1, sequenceNumber: 1, ackNumber: 0, payload: [9]).encoded
        #expect(throws: UTPPacketError.tooShort(19)) { try UTPPacket.parse(good.prefix(19)) }
        var badVersion = good
        badVersion[0] = 0x02
        #expect(throws: UTPPacketError.badVersion(2)) { try UTPPacket.parse(badVersion) }
        var badType = good
        badType[0] = 0x51
        #expect(throws: UTPPacketError.badType(5)) { try UTPPacket.parse(badType) }
        var truncated = good
        truncated[1] = 1  // a selective ack the packet does not hold
        #expect(throws: UTPPacketError.truncatedExtension) { try UTPPacket.parse(truncated) }
        var emptyAck = Array(good.prefix(20)) + [0, 0]
        emptyAck[1] = 1
        #expect(throws: UTPPacketError.badSelectiveAck(0)) { try UTPPacket.parse(emptyAck) }
        // libtorrent's masks are as long as they need, not multiples of 4.
        var oddAck = Array(good.prefix(20)) + [0, 3, 1, 2, 3]
        oddAck[1] = 1
        #expect((try? UTPPacket.parse(oddAck))?.selectiveAck == [1, 2, 3])
        // An unknown extension is skipped; its bytes are not payload.
        var unknown = Array(good.prefix(20)) + [0, 2, 0xaa, 0xbb, 0x42]
        unknown[1] = 9
        #expect((try? UTPPacket.parse(unknown))?.payload == [0x42])
        #expect(!UTPPacket.looksLikeUTP(firstByte: UInt8(ascii: "d")))
        #expect(UTPPacket.looksLikeUTP(firstByte: 0x41))
    }
}
