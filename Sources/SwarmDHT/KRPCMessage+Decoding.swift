import SwarmBencode
import SwarmMetainfo

extension KRPCMessage {
    private static let limits = BencodeLimits(maxDepth: 8, maxInputSize: maxDatagramLength, maxElementCount: 4096)

    /// Decodes one datagram. Throws `KRPCDecodingError` (carrying the transaction id and whether
    /// it was a query, so a node can answer error 203) when it is over `maxDatagramLength`, not
    /// exactly one bencoded dictionary, lacks a required key, has a key of the wrong type or
    /// length, or a string over its limit. Unknown keys are ignored; so are `values` entries that
    /// are not 6 or 18 bytes, `v` over its limit and an `ip` that is not 6 or 18 bytes. Lists are
    /// cut at their caps (`maxNodesPerFamily`, `maxValues`); port-0 and repeated entries dropped.
    public init(decoding datagram: some Collection<UInt8>) throws(KRPCDecodingError) {
        guard datagram.count <= Self.maxDatagramLength else { throw KRPCDecodingError(.tooLarge(length: datagram.count)) }
        let value: BencodeValue
        do {
            value = try BencodeDecoder(limits: Self.limits).decode(Array(datagram))
        } catch {
            throw KRPCDecodingError(.notBencode(detail: "\(error)"))
        }
        guard value.dictionary != nil else { throw KRPCDecodingError(.notADictionary) }
        var fields = FieldReader(isQuery: value["y"]?.bytes == Array("q".utf8))
        let transactionID = try fields.bytes(value, "t", limit: Self.maxTransactionIDLength)
        fields.transactionID = transactionID
        let type = try fields.bytes(value, "y", limit: 1)
        let body: Body
        switch type {
        case Array("q".utf8): body = .query(try fields.query(value))
        case Array("r".utf8): body = .response(try fields.response(value))
        case Array("e".utf8): body = try fields.error(value)
        default: throw fields.failure(.unknownMessageType(type))
        }
        let version = value["v"]?.bytes.flatMap { $0.count <= Self.maxClientVersionLength ? $0 : nil }
        let requester = value["ip"]?.bytes.flatMap { raw in
            raw.count == 6 || raw.count == 18
                ? PeerAddress.decodeCompactList(raw, addressLength: raw.count - 2, limit: 1)?.first : nil
        }
        self.init(transactionID: transactionID, body: body, clientVersion: version,
                  readOnly: value["ro"]?.integer == 1, requesterAddress: requester)
    }
}

/// Reads typed fields, turning every problem into a `KRPCDecodingError` that carries the
/// message's transaction id and type.
private struct FieldReader {
    let isQuery: Bool
    var transactionID: [UInt8]?

    init(isQuery: Bool) {
        self.isQuery = isQuery
    }

    func failure(_ reason: KRPCDecodingError.Reason) -> KRPCDecodingError {
        KRPCDecodingError(reason, transactionID: transactionID, isQuery: isQuery)
    }

    /// The required string under `key`, at most `limit` bytes.
    func bytes(_ dictionary: BencodeValue, _ key: String, limit: Int) throws(KRPCDecodingError) -> [UInt8] {
        guard let value = dictionary[key] else { throw failure(.missingKey(key)) }
        guard let bytes = value.bytes else { throw failure(.wrongType(key: key)) }
        guard bytes.count <= limit else { throw failure(.tooLong(key: key, length: bytes.count, limit: limit)) }
        return bytes
    }

    /// The required 20-byte id under `key`.
    func nodeID(_ dictionary: BencodeValue, _ key: String) throws(KRPCDecodingError) -> NodeID {
        let raw = try bytes(dictionary, key, limit: .max)
        guard let id = NodeID(bytes: raw) else { throw failure(.wrongLength(key: key, length: raw.count)) }
        return id
    }

    /// The required dictionary under `key`.
    func dictionary(_ dictionary: BencodeValue, _ key: String) throws(KRPCDecodingError) -> BencodeValue {
        guard let value = dictionary[key] else { throw failure(.missingKey(key)) }
        guard value.dictionary != nil else { throw failure(.wrongType(key: key)) }
        return value
    }

    func query(_ message: BencodeValue) throws(KRPCDecodingError) -> KRPCQuery {
        let method = try bytes(message, "q", limit: KRPCMessage.maxMethodLength)
        let known = ["ping", "find_node", "get_peers", "announce_peer"].map { Array($0.utf8) }
        guard known.contains(method) else {
            let id = message["a"]?["id"]?.bytes.flatMap { NodeID(bytes: $0) }
            return .unknown(method: method, id: id)
        }
        let arguments = try dictionary(message, "a")
        let id = try nodeID(arguments, "id")
        switch String(decoding: method, as: UTF8.self) {
        case "ping":
            return .ping(id: id)
        case "find_node":
            return .findNode(id: id, target: try nodeID(arguments, "target"))
        case "get_peers":
            return .getPeers(id: id, infoHash: try infoHash(arguments))
        default:
            return try announce(arguments, id: id)
        }
    }

    private func infoHash(_ arguments: BencodeValue) throws(KRPCDecodingError) -> InfoHash {
        let raw = try bytes(arguments, "info_hash", limit: .max)
        guard let hash = InfoHash(bytes: raw) else { throw failure(.wrongLength(key: "info_hash", length: raw.count)) }
        return hash
    }

    /// `announce_peer`: `port` is required unless `implied_port` is non-zero (then the source
    /// port counts and a missing `port` reads as 0).
    private func announce(_ arguments: BencodeValue, id: NodeID) throws(KRPCDecodingError) -> KRPCQuery {
        let hash = try infoHash(arguments)
        var implied = false
        if let flag = arguments["implied_port"] {
            guard let number = flag.integer else { throw failure(.wrongType(key: "implied_port")) }
            implied = number != 0
        }
        var port: UInt16 = 0
        if let value = arguments["port"] {
            guard let number = value.integer else { throw failure(.wrongType(key: "port")) }
            guard (implied ? 0 : 1)...65535 ~= number else { throw failure(.outOfRange(key: "port", value: number)) }
            port = UInt16(number)
        } else if !implied {
            throw failure(.missingKey("port"))
        }
        let token = try bytes(arguments, "token", limit: KRPCMessage.maxTokenLength)
        return .announcePeer(id: id, infoHash: hash, port: port, impliedPort: implied, token: token)
    }

    func response(_ message: BencodeValue) throws(KRPCDecodingError) -> KRPCResponse {
        let values = try dictionary(message, "r")
        var response = KRPCResponse(id: try nodeID(values, "id"))
        for (key, length) in [("nodes", 4), ("nodes6", 16)] {
            guard let field = values[key] else { continue }
            guard let raw = field.bytes else { throw failure(.wrongType(key: key)) }
            guard let nodes = NodeContact.decodeCompactList(raw, addressLength: length,
                                                            limit: KRPCMessage.maxNodesPerFamily) else {
                throw failure(.wrongLength(key: key, length: raw.count))
            }
            response.nodes += nodes
        }
        if let field = values["values"] {
            guard let list = field.list else { throw failure(.wrongType(key: "values")) }
            var seen = Set<PeerAddress>()
            for entry in list where response.values.count < KRPCMessage.maxValues {
                guard let raw = entry.bytes, raw.count == 6 || raw.count == 18,
                      let peer = PeerAddress.decodeCompactList(raw, addressLength: raw.count - 2)?.first,
                      seen.insert(peer).inserted else { continue }
                response.values.append(peer)
            }
        }
        if values["token"] != nil {
            response.token = try bytes(values, "token", limit: KRPCMessage.maxTokenLength)
        }
        return response
    }

    /// `e`: `[code, message]`; a missing or non-string message reads as empty, a long one is cut.
    func error(_ message: BencodeValue) throws(KRPCDecodingError) -> KRPCMessage.Body {
        guard let field = message["e"] else { throw failure(.missingKey("e")) }
        guard let list = field.list, let code = list.first?.integer else { throw failure(.wrongType(key: "e")) }
        let text = list.count > 1 ? list[1].bytes ?? [] : []
        return .error(code: code, message: Array(text.prefix(KRPCMessage.maxErrorMessageLength)))
    }
}
