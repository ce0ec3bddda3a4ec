import SwarmUTP

/// uTP (BEP 29) packets and the connection that receives them. A parsed packet encodes and parses
/// back to itself. Then the input, as a datagram, is handed to both ends of a connected pair as
/// it is and re-addressed to them (connection id, and sequence and ack numbers moved next to
/// theirs, where it does the most): neither end traps, each keeps its buffers within bounds, and
/// every datagram either sends parses and fits the largest packet path MTU discovery may try (a
/// 1500-byte frame's payload) plus a selective ack.
enum UTPFuzzCheck {
    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        guard let packet = try? UTPPacket.parse(input) else { return }
        try require(packet.selectiveAck.count <= UTPPacket.maxSelectiveAckBytes,
                    .utp, "selective ack of \(packet.selectiveAck.count) bytes")
        try require((try? UTPPacket.parse(packet.encoded)) == packet, .utp, "encode -> parse changed the packet")

        var now: UInt64 = 5_000_000
        var settings = UTPConnectionSettings()
        settings.maximumPayloadSize = UTPConnectionSettings.ipv4FramePayloadSize
        let a = UTPConnection.connect(receiveID: 100, sequence: 0xfffe, now: now, settings: settings)
        guard let syn = a.takeDatagrams().first.flatMap({ try? UTPPacket.parse($0.bytes) }) else {
            return try require(false, .utp, "no SYN")
        }
        let b = UTPConnection.accept(syn, sequence: 500, now: now, settings: settings)
        for datagram in b.takeDatagrams() { if let p = try? UTPPacket.parse(datagram.bytes) { a.receive(p, now: now) } }
        a.write([UInt8](repeating: 7, count: 20_000), now: now)
        b.write([UInt8](repeating: 9, count: 5_000), now: now)
        var sent: [UTPDatagram] = []
        sent += a.takeDatagrams()
        sent += b.takeDatagrams()

        var variants = [packet]
        for (connection, id, peerSequence) in [(a, a.receiveID, UInt16(500)), (b, b.receiveID, UInt16(0xffff))] {
            var moved = packet
            moved.connectionID = id
            moved.sequenceNumber = peerSequence &+ (packet.sequenceNumber & 0x0f)
            moved.ackNumber = packet.ackNumber & 0x1f &+ (connection === a ? 0xfffe : 500)
            variants.append(moved)
        }
        for variant in variants {
            now += UInt64(input.count) * 1_000
            a.receive(variant, now: now)
            b.receive(variant, now: now)
            a.sendDeferredAck(now: now)
            b.sendDeferredAck(now: now)
            a.tick(now: now)
            b.tick(now: now)
            sent += a.takeDatagrams()
            sent += b.takeDatagrams()
        }
        for connection in [a, b] {
            try require(connection.readable <= settings.receiveBufferCapacity + settings.payloadSize, .utp,
                        "\(connection.readable) bytes held to read")
            try require(connection.writeSpace >= 0 && connection.writeSpace <= settings.sendBufferCapacity, .utp,
                        "write space \(connection.writeSpace)")
        }
        let largest = settings.maximumPayloadSize + UTPPacket.headerLength + 2 + UTPPacket.maxSelectiveAckBytes
        for datagram in sent {
            try require(datagram.bytes.count <= largest, .utp, "sent \(datagram.bytes.count) bytes")
            try require((try? UTPPacket.parse(datagram.bytes)) != nil, .utp, "sent a datagram that is not uTP")
        }
    }
}
