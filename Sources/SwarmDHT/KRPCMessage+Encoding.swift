import SwarmBencode
import SwarmMetainfo

extension KRPCMessage {
    /// The datagram: canonical bencode (keys sorted). Nodes go to `nodes` or `nodes6` by their
    /// address family; empty lists and absent optional values are left out. A `requesterAddress`
    /// whose host is not an IP literal is left out too.
    public func encoded() -> [UInt8] {
        var entries = [BencodeDictionaryEntry("t", .bytes(transactionID))]
        switch body {
        case let .query(query):
            entries.append(BencodeDictionaryEntry("y", "q"))
            entries.append(BencodeDictionaryEntry("q", .bytes(query.method)))
            entries.append(BencodeDictionaryEntry("a", Self.arguments(of: query)))
        case let .response(response):
            entries.append(BencodeDictionaryEntry("y", "r"))
            entries.append(BencodeDictionaryEntry("r", Self.returnValues(of: response)))
        case let .error(code, message):
            entries.append(BencodeDictionaryEntry("y", "e"))
            entries.append(BencodeDictionaryEntry("e", .list([.integer(code), .bytes(message)])))
        }
        if let clientVersion { entries.append(BencodeDictionaryEntry("v", .bytes(clientVersion))) }
        if readOnly { entries.append(BencodeDictionaryEntry("ro", 1)) }
        if let compact = requesterAddress?.compactBytes { entries.append(BencodeDictionaryEntry("ip", .bytes(compact))) }
        return BencodeEncoder.encode(.dictionary(entries))
    }

    private static func arguments(of query: KRPCQuery) -> BencodeValue {
        var entries: [BencodeDictionaryEntry] = []
        if let id = query.senderID { entries.append(BencodeDictionaryEntry("id", .bytes(id.bytes))) }
        switch query {
        case .ping, .unknown:
            break
        case let .findNode(_, target):
            entries.append(BencodeDictionaryEntry("target", .bytes(target.bytes)))
        case let .getPeers(_, infoHash):
            entries.append(BencodeDictionaryEntry("info_hash", .bytes(infoHash.bytes)))
        case let .announcePeer(_, infoHash, port, impliedPort, token):
            entries.append(BencodeDictionaryEntry("info_hash", .bytes(infoHash.bytes)))
            if impliedPort { entries.append(BencodeDictionaryEntry("implied_port", 1)) }
            entries.append(BencodeDictionaryEntry("port", .integer(Int64(port))))
            entries.append(BencodeDictionaryEntry("token", .bytes(token)))
        }
        return .dictionary(entries)
    }

    private static func returnValues(of response: KRPCResponse) -> BencodeValue {
        var entries = [BencodeDictionaryEntry("id", .bytes(response.id.bytes))]
        let nodes = NodeContact.encodeCompactList(response.nodes, addressLength: 4)
        if !nodes.isEmpty { entries.append(BencodeDictionaryEntry("nodes", .bytes(nodes))) }
        let nodes6 = NodeContact.encodeCompactList(response.nodes, addressLength: 16)
        if !nodes6.isEmpty { entries.append(BencodeDictionaryEntry("nodes6", .bytes(nodes6))) }
        if let token = response.token { entries.append(BencodeDictionaryEntry("token", .bytes(token))) }
        let values = response.values.compactMap(\.compactBytes)
        if !values.isEmpty { entries.append(BencodeDictionaryEntry("values", .list(values.map(BencodeValue.bytes)))) }
        return .dictionary(entries)
    }
}
