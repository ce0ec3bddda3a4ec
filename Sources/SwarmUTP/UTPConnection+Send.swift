extension UTPConnection {
    /// Sends what is waiting (packets to resend first, then new data, then FIN) as far as the
    /// congestion window and the peer's window allow.
    func sendPending(now: UInt64) {
        guard state == .connected else { return }
        let limit = min(congestion.window, peerWindow)
        // Resends, oldest first.
        var index = 0
        while index < inFlight.count {
            if inFlight[index].needsResend {
                guard inFlightBytes + inFlight[index].size <= max(limit, inFlight[index].size) || inFlightBytes == 0 else {
                    windowWasFull = true
                    return
                }
                transmit(index, now: now)
            }
            index += 1
        }
        while !unsent.isEmpty {
            var size = min(unsent.count, pathMTU.floor)
            // Half the sequence space at most in flight: beyond it acks become ambiguous.
            guard inFlight.count < 0x4000 else { return }
            guard inFlightBytes + size + UTPPacket.headerLength <= limit else {
                windowWasFull = true
                return
            }
            let probeSize = pathProbeSize(limit: limit)
            if let probeSize {
                size = probeSize
                pathMTU.sent(sequence: nextSequence, size: size)
            }
            let payload = unsent.take(size)
            inFlight.append(Outgoing(sequence: nextSequence, kind: .data, payload: payload, isPathProbe: probeSize != nil))
            inFlightPayload += payload.count
            nextSequence &+= 1
            transmit(inFlight.count - 1, now: now)
        }
        if finQueued, !finSent {
            finSent = true
            inFlight.append(Outgoing(sequence: nextSequence, kind: .fin, payload: []))
            nextSequence &+= 1
            transmit(inFlight.count - 1, now: now)
        }
    }

    /// The payload size when the next new packet should be the path MTU probe (nil: an ordinary
    /// one): a probe is due, there is data to fill it, it fits the window, and the window holds
    /// three ordinary packets besides (so packets around it tell its loss from congestion, as
    /// libtorrent requires), outside a loss recovery.
    private func pathProbeSize(limit: Int) -> Int? {
        guard let probeSize = pathMTU.nextProbeSize, unsent.count >= probeSize, recoveryEnd == nil else { return nil }
        let header = UTPPacket.headerLength
        guard congestion.window >= 3 * (pathMTU.floor + header), inFlightBytes + probeSize + header <= limit else { return nil }
        return probeSize
    }

    /// Sends (or sends again) `inFlight[index]`.
    func transmit(_ index: Int, now: UInt64) {
        var packet = inFlight[index]
        if packet.transmissions > 0 { retransmissions += 1 }
        packet.transmissions += 1
        packet.sentAt = now
        if packet.needsResend || packet.transmissions == 1 {
            inFlightBytes += packet.size
        }
        packet.needsResend = false
        inFlight[index] = packet
        // Only a probe's first copy may be dropped for its size: a resend must get through.
        emit(UTPPacket(kind: packet.kind, connectionID: sendID, timestamp: UInt32(truncatingIfNeeded: now),
                       timestampDifference: replyDelay, windowSize: UInt32(receiveWindow),
                       sequenceNumber: packet.sequence, ackNumber: ackNumber, payload: packet.payload[...]),
             dontFragment: packet.isPathProbe && packet.transmissions == 1)
        // Every packet carries our ack: none is pending any more.
        ackPending = false
        if retransmitDeadline == nil { retransmitDeadline = now + roundTrip.timeout }
    }

    /// An ack (STATE) with the selective ack of what arrived out of order.
    func sendState(now: UInt64) {
        emit(UTPPacket(kind: .state, connectionID: sendID, timestamp: UInt32(truncatingIfNeeded: now),
                       timestampDifference: replyDelay, windowSize: UInt32(receiveWindow),
                       sequenceNumber: nextSequence, ackNumber: ackNumber, selectiveAck: selectiveAckMask()))
        ackPending = false
    }

    func sendSYN(now: UInt64) {
        synAttempt += 1
        synSentAt = now
        emit(UTPPacket(kind: .syn, connectionID: receiveID, timestamp: UInt32(truncatingIfNeeded: now),
                       windowSize: UInt32(receiveWindow), sequenceNumber: nextSequence &- 1, ackNumber: 0))
        let wait = settings.synTimeout << UInt64(min(synAttempt - 1, 4))
        retransmitDeadline = now + wait
    }

    /// Bit i: packet `ackNumber + 2 + i` is here; up to the last one held, in whole 32-bit words.
    func selectiveAckMask() -> [UInt8] {
        guard !outOfOrder.isEmpty else { return [] }
        var highest = 0
        for sequence in outOfOrder.keys {
            highest = max(highest, Int(sequence &- ackNumber &- 2))
        }
        let bits = min(highest + 1, UTPPacket.maxSelectiveAckBytes * 8)
        var mask = [UInt8](repeating: 0, count: (bits + 31) / 32 * 4)
        for sequence in outOfOrder.keys {
            let bit = Int(sequence &- ackNumber &- 2)
            if bit < mask.count * 8 { mask[bit / 8] |= 1 << (bit % 8) }
        }
        return mask
    }

    func emit(_ packet: UTPPacket, dontFragment: Bool = false) {
        datagrams.append(UTPDatagram(bytes: packet.encoded, dontFragment: dontFragment))
    }

    // MARK: - Time

    /// Timeouts: a SYN unanswered, a packet unacked for the retransmission timeout, a zero window.
    public func tick(now: UInt64) {
        guard state != .closed, let deadline = retransmitDeadline, now >= deadline else { return }
        if state == .synSent {
            guard synAttempt < settings.synAttempts else { return close(.connectTimedOut) }
            return sendSYN(now: now)
        }
        if inFlight.isEmpty {
            retransmitDeadline = nil
            // The peer's window closed and its reopening was lost: probe with one packet.
            if !unsent.isEmpty || (finQueued && !finSent) {
                peerWindow = max(peerWindow, settings.payloadSize + UTPPacket.headerLength)
                sendPending(now: now)
            }
            return
        }
        consecutiveTimeouts += 1
        guard consecutiveTimeouts <= settings.maxConsecutiveTimeouts else {
            emit(UTPPacket(kind: .reset, connectionID: sendID, timestamp: UInt32(truncatingIfNeeded: now),
                           sequenceNumber: nextSequence, ackNumber: ackNumber))
            return close(.timedOut)
        }
        // A probe that was the only packet unacked was too big, most likely (libtorrent's rule):
        // a lower ceiling, and no congestion signal. Lost among others, it tells nothing.
        let unacked = inFlight.indices.filter { !inFlight[$0].selectivelyAcked }
        var probeAlone = false
        if let probe = pathMTU.probe, let index = unacked.first(where: { inFlight[$0].sequence == probe.sequence }) {
            inFlight[index].isPathProbe = false
            probeAlone = unacked.count == 1
            if probeAlone { pathMTU.lost(sequence: probe.sequence) } else { pathMTU.abandon() }
        }
        if !probeAlone { congestion.timedOut() }
        for index in unacked {
            inFlight[index].needsResend = true
        }
        inFlightBytes = 0
        recoveryEnd = nextSequence
        retransmitDeadline = nil
        sendPending(now: now)
        // Back off: each timeout in a row doubles the wait.
        retransmitDeadline = now + roundTrip.timeout << UInt64(min(consecutiveTimeouts, 5))
    }
}
