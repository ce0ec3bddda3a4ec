import NIOCore
import SwarmMetainfo

/// The engine's one UDP socket's reader: sorts each datagram by its first byte to the protocol
/// it belongs to. KRPC (BEP 5) datagrams are bencoded dictionaries and start with `d`; uTP
/// (BEP 29) packets start with a version/type byte whose low nibble is 1 (`0x01`-`0x41`), and
/// will get their own route here (`otherDatagram`) when uTP shares the socket. Lives on the
/// engine's event loop; the routes are called there.
final class DatagramDemultiplexer: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    /// A KRPC datagram and its sender.
    private let krpc: (ByteBuffer, PeerAddress) -> Void
    /// Any other datagram (the uTP seam); dropped until uTP exists.
    private let otherDatagram: (ByteBuffer, PeerAddress) -> Void

    init(krpc: @escaping (ByteBuffer, PeerAddress) -> Void,
         otherDatagram: @escaping (ByteBuffer, PeerAddress) -> Void = { _, _ in }) {
        self.krpc = krpc
        self.otherDatagram = otherDatagram
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let source = Self.peerAddress(envelope.remoteAddress) else { return }
        if envelope.data.readableBytesView.first == UInt8(ascii: "d") {
            krpc(envelope.data, source)
        } else {
            otherDatagram(envelope.data, source)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP "port unreachable" and the like surface here on Linux: a datagram lost, no more.
    }

    /// The address as an IP literal and port; an IPv4-mapped IPv6 address as its IPv4 form.
    static func peerAddress(_ address: SocketAddress) -> PeerAddress? {
        guard let text = address.ipAddress, let port = address.port, let port16 = UInt16(exactly: port),
              var ip = IPAddress(text: text) else { return nil }
        if !ip.isIPv4, ip.bytes[0..<10].allSatisfy({ $0 == 0 }), ip.bytes[10] == 0xff, ip.bytes[11] == 0xff,
           let v4 = IPAddress(bytes: ip.bytes[12...]) {
            ip = v4
        }
        return PeerAddress(ip: ip, port: port16)
    }
}
