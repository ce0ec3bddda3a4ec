import NIOCore
import SwarmMetainfo
import SwarmUTP

/// The engine's one UDP socket's reader: sorts each datagram by its first byte to the protocol
/// it belongs to. KRPC (BEP 5) datagrams are bencoded dictionaries and start with `d`; uTP
/// (BEP 29) packets start with a type/version byte whose low nibble is 1 (`0x01`-`0x41`).
/// Anything else, and a datagram that filled the read buffer (it may have been cut), is dropped.
/// Lives on the engine's event loop; the routes are called there.
final class DatagramDemultiplexer: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    /// A KRPC datagram and its sender.
    private let krpc: (ByteBuffer, PeerAddress) -> Void
    /// A uTP datagram and its sender, as the socket address replies go to.
    private let utp: (ByteBuffer, SocketAddress) -> Void
    /// The end of a batch of reads.
    private let readComplete: () -> Void

    init(krpc: @escaping (ByteBuffer, PeerAddress) -> Void,
         utp: @escaping (ByteBuffer, SocketAddress) -> Void = { _, _ in },
         readComplete: @escaping () -> Void = {}) {
        self.krpc = krpc
        self.utp = utp
        self.readComplete = readComplete
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let first = envelope.data.readableBytesView.first,
              envelope.data.readableBytes < EngineUDPSocket.receiveCapacity else { return }
        if first == UInt8(ascii: "d") {
            guard let source = Self.peerAddress(envelope.remoteAddress) else { return }
            krpc(envelope.data, source)
        } else if UTPPacket.looksLikeUTP(firstByte: first) {
            utp(envelope.data, envelope.remoteAddress)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP "port unreachable" and the like surface here on Linux: a datagram lost, no more.
    }

    /// The address as an IP literal and port; an IPv4-mapped IPv6 address as its IPv4 form.
    static func peerAddress(_ address: SocketAddress) -> PeerAddress? {
        guard let text = address.ipAddress, let port = address.port, let port16 = UInt16(exactly: port),
              let ip = IPAddress(text: text) else { return nil }
        return PeerAddress(ip: ip.ipv4Bytes.flatMap { IPAddress(bytes: $0) } ?? ip, port: port16)
    }
}
