import NIOCore

/// The BEP 15 UDP tracker packets, encoded and decoded without I/O.
enum UDPTrackerPacket {
    /// The magic connection id of a connect request.
    static let protocolID: UInt64 = 0x417_2710_1980

    enum Action: UInt32 {
        case connect = 0, announce = 1, scrape = 2, error = 3
    }

    /// A decoded reply to one of our requests.
    enum Reply: Equatable {
        case connected(connectionID: UInt64)
        case announced(AnnounceResponse)
        case error(String)
    }

    /// The 16-byte connect request.
    static func connectRequest(transactionID: UInt32, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 16)
        buffer.writeMultipleIntegers(protocolID, Action.connect.rawValue, transactionID)
        return buffer
    }

    /// The 98-byte announce request.
    static func announceRequest(
        connectionID: UInt64, transactionID: UInt32, request: AnnounceRequest,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 98)
        buffer.writeMultipleIntegers(connectionID, Action.announce.rawValue, transactionID)
        buffer.writeBytes(request.infoHash.bytes)
        // The peer id must be exactly 20 bytes on the wire whatever the caller passed.
        for index in 0..<20 { buffer.writeInteger(index < request.peerID.count ? request.peerID[index] : 0) }
        buffer.writeMultipleIntegers(
            UInt64(max(0, request.downloaded)), UInt64(max(0, request.left)), UInt64(max(0, request.uploaded)))
        // IP 0: "use the sender's address"; num_want -1 would mean "tracker's default".
        buffer.writeMultipleIntegers(
            request.event.udpCode, UInt32(0), request.key, Int32(clamping: request.numWant), request.port)
        return buffer
    }

    /// The transaction id of a reply, if it is long enough to have one.
    static func transactionID(of reply: ByteBuffer) -> UInt32? {
        reply.getInteger(at: reply.readerIndex + 4, as: UInt32.self)
    }

    /// Decodes a reply whose transaction id already matched. `ipv6Peers` selects 18-byte peer
    /// entries, which BEP 15 uses when the tracker was reached over IPv6.
    static func parse(_ reply: ByteBuffer, ipv6Peers: Bool, url: String) throws(TrackerError) -> Reply {
        var buffer = reply
        guard let (actionCode, _) = buffer.readMultipleIntegers(as: (UInt32, UInt32).self) else {
            throw .malformedResponse(url: url, detail: "UDP reply of \(reply.readableBytes) bytes is too short")
        }
        switch Action(rawValue: actionCode) {
        case .connect:
            guard let connectionID = buffer.readInteger(as: UInt64.self) else {
                throw .malformedResponse(url: url, detail: "short UDP connect reply")
            }
            return .connected(connectionID: connectionID)
        case .announce:
            // opentracker answers a torrent it does not serve with a bare 8-byte header.
            if buffer.readableBytes == 0 { throw .failure(url: url, reason: "empty announce reply (torrent not served)") }
            guard let (interval, leechers, seeders) = buffer.readMultipleIntegers(as: (UInt32, UInt32, UInt32).self) else {
                throw .malformedResponse(url: url, detail: "short UDP announce reply")
            }
            let addressLength = ipv6Peers ? 16 : 4
            // A trailing partial entry is ignored rather than failing the whole announce.
            let usable = buffer.readableBytes - buffer.readableBytes % (addressLength + 2)
            let bytes = buffer.readBytes(length: usable) ?? []
            let peers = CompactPeerList.decode(bytes, addressLength: addressLength) ?? []
            return .announced(AnnounceResponse(
                interval: .seconds(min(Int64(interval), HTTPTrackerResponse.maxInterval)),
                peers: HTTPTrackerResponse.deduplicated(peers),
                seeders: Int(seeders), leechers: Int(leechers)))
        case .error:
            let message = TrackerText.oneLine(String(decoding: buffer.readableBytesView.prefix(1024), as: UTF8.self))
            return .error(message)
        case .scrape, nil:
            throw .malformedResponse(url: url, detail: "unexpected UDP action \(actionCode)")
        }
    }
}
