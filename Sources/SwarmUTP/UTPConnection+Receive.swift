extension UTPConnection {
    /// Handles one packet addressed to this connection (its connection id is `receiveID`, or it
    /// is the peer's SYN again). Data is acked by the next packet we send or, when none goes out,
    /// by `sendDeferredAck`, which the owner calls after each batch of datagrams (as libutp
    /// does): one ack per batch, not per packet.
    public func receive(_ packet: UTPPacket, now: UInt64) {
        guard state != .closed else { return }
        if packet.kind == .reset { return close(.reset) }
        replyDelay = UInt32(truncatingIfNeeded: now) &- packet.timestamp
        peerWindow = Int(packet.windowSize)
        if packet.kind == .syn {
            // Our STATE for it was lost: say it again.
            if packet.sequenceNumber == ackNumber, state == .connected { sendState(now: now) }
            return
        }
        if state == .synSent {
            guard packet.ackNumber == nextSequence &- 1 else { return }
            // The SYN-ACK: the peer's first data packet will carry the sequence its STATE carried.
            state = .connected
            ackNumber = packet.sequenceNumber &- 1
            if synAttempt == 1 { roundTrip.sample(now &- synSentAt) }
            retransmitDeadline = nil
        }
        acknowledge(packet, now: now)
        guard state != .closed else { return }
        if packet.kind == .data || packet.kind == .fin {
            accept(packet)
        }
        sendPending(now: now)
        if finAcked, peerFinished {
            // The peer's FIN is acked before we go: it would resend it to a closed connection.
            if ackPending { sendState(now: now) }
            close(.finished)
        }
    }

    /// Acks what arrived since the last packet we sent, if anything did.
    public func sendDeferredAck(now: UInt64) {
        guard state == .connected, ackPending else { return }
        sendState(now: now)
    }

    /// The ack number and the selective ack: what the peer has.
    private func acknowledge(_ packet: UTPPacket, now: UInt64) {
        guard let oldest = inFlight.first?.sequence else { return }
        let count = Int(packet.ackNumber &- (oldest &- 1))
        guard count <= inFlight.count else { return }  // an ack for packets never sent (or long gone)
        var bytesAcked = 0
        for _ in 0..<count {
            let acked = inFlight.removeFirst()
            inFlightPayload -= acked.payload.count
            if acked.kind == .fin { finAcked = true }
            guard !acked.selectivelyAcked else { continue }
            if acked.isPathProbe { pathMTU.acked(sequence: acked.sequence) }
            bytesAcked += acked.size
            if !acked.needsResend { inFlightBytes -= acked.size }
            if acked.transmissions == 1 { roundTrip.sample(now &- acked.sentAt) }
        }
        if count > 0 {
            duplicateAcks = 0
        } else if packet.kind == .state, !inFlight.isEmpty {
            duplicateAcks += 1
        }
        var lostIndices: [Int] = []
        if !packet.selectiveAck.isEmpty {
            var laterAcked = 0
            for index in inFlight.indices.reversed() {
                if inFlight[index].selectivelyAcked {
                    laterAcked += 1
                    continue
                }
                if packet.selectivelyAcks(inFlight[index].sequence) {
                    inFlight[index].selectivelyAcked = true
                    if inFlight[index].isPathProbe { pathMTU.acked(sequence: inFlight[index].sequence) }
                    laterAcked += 1
                    bytesAcked += inFlight[index].size
                    if !inFlight[index].needsResend { inFlightBytes -= inFlight[index].size }
                    if inFlight[index].transmissions == 1 { roundTrip.sample(now &- inFlight[index].sentAt) }
                } else if laterAcked >= 3 {
                    lostIndices.append(index)
                }
            }
        } else if duplicateAcks >= 3, !inFlight.isEmpty {
            duplicateAcks = 0
            lostIndices.append(0)
        }
        if bytesAcked > 0 {
            if packet.timestampDifference != 0 { congestion.delaySample(packet.timestampDifference, now: now) }
            congestion.acked(bytes: bytesAcked, windowWasFull: windowWasFull)
            windowWasFull = false
            consecutiveTimeouts = 0
            retransmitDeadline = inFlight.isEmpty ? nil : now + roundTrip.timeout
        }
        if let recoveryEnd, inFlight.first.map({ Int16(bitPattern: $0.sequence &- recoveryEnd) >= 0 }) ?? true {
            self.recoveryEnd = nil
        }
        // Lost: sent again at once, unless already waiting for that (once per round trip each).
        for index in lostIndices.reversed() where !inFlight[index].needsResend {
            guard now &- inFlight[index].sentAt >= roundTrip.smoothed else { continue }
            if inFlight[index].isPathProbe {
                // Too big for the path, most likely: a lower ceiling, not a congestion signal.
                pathMTU.lost(sequence: inFlight[index].sequence)
                inFlight[index].isPathProbe = false
            } else if recoveryEnd == nil {
                congestion.lost()
                recoveryEnd = nextSequence
            }
            inFlight[index].needsResend = true
            inFlightBytes -= inFlight[index].size
        }
    }

    /// A DATA or FIN packet: in order, it and what it unblocks are delivered; ahead, it waits.
    private func accept(_ packet: UTPPacket) {
        let distance = packet.sequenceNumber &- ackNumber
        ackPending = true
        guard distance != 0, distance < 0x8000 else { return }  // a duplicate: ack it again
        if let fin = peerFinSequence, Int16(bitPattern: packet.sequenceNumber &- fin) > 0 { return }
        if distance == 1 {
            take(packet.payload, isFin: packet.kind == .fin)
            while let next = outOfOrder.removeValue(forKey: ackNumber &+ 1) {
                outOfOrderBytes -= next.payload.count
                take(next.payload, isFin: next.isFin)
            }
        } else if Int(distance) <= settings.maxReorderPackets, outOfOrder[packet.sequenceNumber] == nil,
                  packet.payload.count <= receiveWindow {
            outOfOrder[packet.sequenceNumber] = (packet.payload, packet.kind == .fin)
            outOfOrderBytes += packet.payload.count
        }
    }

    private func take(_ payload: ArraySlice<UInt8>, isFin: Bool) {
        ackNumber &+= 1
        if isFin {
            peerFinSequence = ackNumber
            peerFinished = true
            outOfOrder.removeAll()
            outOfOrderBytes = 0
        } else if !peerFinished {
            delivered.append(contentsOf: payload)
        }
    }
}
