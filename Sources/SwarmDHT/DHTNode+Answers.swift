import SwarmMetainfo

/// Answering other nodes' queries (BEP 5): `ping`, `find_node`, `get_peers` (with a write token
/// for the asker's address), `announce_peer` (the token checked), error 204 for the rest. Every
/// answer passes the per-source and global rate limits first; a query over them is dropped
/// silently, as libtorrent does.
extension DHTNode {
    func answer(_ query: KRPCQuery, message: KRPCMessage, from source: PeerAddress, ip: IPAddress,
                now: ContinuousClock.Instant) {
        guard rateLimiter.admitQuery(from: ip, now: now) else {
            statistics.queriesRefused += 1
            return
        }
        if !message.readOnly, let id = query.senderID {
            learn(NodeContact(id: id, ip: ip, port: source.port), .queried, now: now)
        }
        var response = KRPCResponse(id: table.ownID)
        switch query {
        case .ping:
            break
        case let .findNode(_, target):
            response.nodes = closestNodes(to: target, for: ip, now: now)
        case let .getPeers(_, infoHash):
            response.token = tokens.token(for: ip, now: now)
            response.values = peerStore.peers(for: infoHash, limit: configuration.maxValuesPerAnswer, now: now)
                .filter { $0.ipAddress?.isIPv4 == ip.isIPv4 }
            response.nodes = closestNodes(to: NodeID(infoHash: infoHash), for: ip, now: now)
        case let .announcePeer(_, infoHash, port, impliedPort, token):
            guard tokens.accepts(token, for: ip, now: now) else {
                return answerError(203, "bad token", transactionID: message.transactionID, to: source, ip: ip, now: now)
            }
            let peerPort = impliedPort ? source.port : port
            guard peerPort != 0 else {
                return answerError(203, "port 0", transactionID: message.transactionID, to: source, ip: ip, now: now)
            }
            peerStore.add(PeerAddress(ip: ip, port: peerPort), for: infoHash, now: now)
        case .unknown:
            return answerError(204, "method unknown", transactionID: message.transactionID, to: source, ip: ip, now: now)
        }
        let reply = KRPCMessage(transactionID: message.transactionID, body: .response(response),
                                clientVersion: configuration.clientVersion, requesterAddress: source)
        sendAnswer(reply.encoded(), to: source, now: now)
    }

    /// The K closest nodes of the asker's family, which is ours (BEP 32: one table per family, so
    /// `nodes` from an IPv4 node, `nodes6` from an IPv6 one).
    private func closestNodes(to target: NodeID, for ip: IPAddress, now: ContinuousClock.Instant) -> [NodeContact] {
        Array(table.closest(to: target, count: 2 * RoutingTable.bucketSize, now: now)
            .filter { $0.ip.isIPv4 == ip.isIPv4 }.prefix(RoutingTable.bucketSize))
    }

    func answerError(_ code: Int64, _ text: String, transactionID: [UInt8], to source: PeerAddress, ip: IPAddress,
                     now: ContinuousClock.Instant) {
        let reply = KRPCMessage(transactionID: transactionID, body: .error(code: code, message: Array(text.utf8.prefix(64))),
                                clientVersion: configuration.clientVersion)
        sendAnswer(reply.encoded(), to: source, now: now)
    }

    private func sendAnswer(_ datagram: [UInt8], to source: PeerAddress, now: ContinuousClock.Instant) {
        guard rateLimiter.admitAnswer(bytes: datagram.count, now: now) else {
            statistics.queriesRefused += 1
            return
        }
        statistics.queriesAnswered += 1
        transmit(datagram, to: source)
    }
}
