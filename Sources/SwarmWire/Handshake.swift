import SwarmMetainfo

/// The BitTorrent handshake (BEP 3): `19 "BitTorrent protocol" reserved[8] info_hash[20] peer_id[20]`.
public struct Handshake: Sendable, Hashable {
    /// The torrent the peer wants to talk about.
    public var infoHash: InfoHash
    /// The sender's peer id.
    public var peerID: PeerID
    /// The 8 reserved bytes, whose bits advertise protocol extensions. Always 8 bytes when encoded:
    /// shorter arrays are zero-padded, longer ones truncated.
    public var reserved: [UInt8]

    /// The protocol string every handshake starts with (after its length byte, 19).
    public static let protocolName: [UInt8] = Array("BitTorrent protocol".utf8)
    /// The encoded size of a handshake: 1 + 19 + 8 + 20 + 20.
    public static let encodedLength = 68

    /// Creates a handshake; `reserved` defaults to all zero (no extensions).
    public init(infoHash: InfoHash, peerID: PeerID, reserved: [UInt8] = [UInt8](repeating: 0, count: 8)) {
        self.infoHash = infoHash
        self.peerID = peerID
        self.reserved = reserved
    }

    /// Our handshake: advertises the fast extension (BEP 6) and the extension protocol (BEP 10).
    public static func ours(infoHash: InfoHash, peerID: PeerID) -> Handshake {
        var handshake = Handshake(infoHash: infoHash, peerID: peerID)
        handshake.supportsExtensionProtocol = true
        handshake.supportsFastExtension = true
        return handshake
    }

    /// BEP 10, the extension protocol: bit 0x10 of reserved byte 5.
    public var supportsExtensionProtocol: Bool {
        get { reservedBit(byte: 5, mask: 0x10) }
        set { setReservedBit(byte: 5, mask: 0x10, newValue) }
    }

    /// BEP 6, the fast extension: bit 0x04 of reserved byte 7.
    public var supportsFastExtension: Bool {
        get { reservedBit(byte: 7, mask: 0x04) }
        set { setReservedBit(byte: 7, mask: 0x04, newValue) }
    }

    /// BEP 5, the DHT (the peer will send `port`): bit 0x01 of reserved byte 7.
    public var supportsDHT: Bool {
        get { reservedBit(byte: 7, mask: 0x01) }
        set { setReservedBit(byte: 7, mask: 0x01, newValue) }
    }

    private func reservedBit(byte: Int, mask: UInt8) -> Bool {
        byte < reserved.count && reserved[byte] & mask != 0
    }

    private mutating func setReservedBit(byte: Int, mask: UInt8, _ on: Bool) {
        if reserved.count < 8 { reserved += [UInt8](repeating: 0, count: 8 - reserved.count) }
        if on { reserved[byte] |= mask } else { reserved[byte] &= ~mask }
    }
}
