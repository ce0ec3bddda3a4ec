/// The limits and timings of a uTP connection.
public struct UTPConnectionSettings: Sendable {
    /// Payload bytes per packet until path MTU discovery has found more. The datagram is 20 bytes
    /// more: 1200 in all, which crosses any IPv6 path (minimum MTU 1280 less 48 bytes of IP and
    /// UDP headers) and nearly every IPv4 one without fragmentation.
    public var payloadSize = 1180
    /// The largest payload path MTU discovery tries (`UTPPathMTU`); at or below `payloadSize`, no
    /// probing. The owner sets it from the link: 1452 over IPv4 (a 1500-byte frame less 20 bytes
    /// of IP, 8 of UDP and 20 of uTP header), as libtorrent does.
    public var maximumPayloadSize = 1180
    /// The payload of a whole 1500-byte IPv4 frame: less 20 bytes of IP, 8 of UDP and 20 of uTP.
    public static let ipv4FramePayloadSize = 1500 - 20 - 8 - UTPPacket.headerLength
    /// Bytes accepted for sending and not yet acked (queued plus in flight): the send window's
    /// ceiling and what one connection may hold in memory on the way out.
    public var sendBufferCapacity = 1 << 20
    /// Bytes received and not yet read (in order plus out of order): what we advertise.
    public var receiveBufferCapacity = 1 << 20
    /// SYNs sent before giving up on a connect (the dialler then falls back to TCP).
    public var synAttempts = 2
    /// Wait for the answer to the first SYN (doubling for each next one), microseconds.
    public var synTimeout: UInt64 = 500_000
    /// Timeouts in a row, with nothing acked between them, before the connection is dead. Four,
    /// as libutp: with the timeout doubling each time, a peer that went silent is given up after
    /// ~15 s (from the 0.5 s minimum timeout), and the dialler can reconnect. Waiting longer buys
    /// nothing: libtorrent drops a connection whose packet it resent 3 times (`utp_num_resends`)
    /// without telling us, and eight timeouts here were 79 s of a dead connection held open.
    public var maxConsecutiveTimeouts = 4
    /// Out-of-order packets held beyond the next expected one.
    public var maxReorderPackets = 1024

    public init() {}
}
