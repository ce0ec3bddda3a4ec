import SwarmDHT

/// KRPC (BEP 5): a decoded message keeps every string and list within its cap (transaction id,
/// token, method, `v`, error text, nodes per family, values) and survives encode -> decode
/// unchanged; its encoding fits a datagram the decoder accepts.
enum KRPCFuzzCheck {
    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        guard let message = try? KRPCMessage(decoding: input) else { return }
        try require(message.transactionID.count <= KRPCMessage.maxTransactionIDLength, .krpc,
                    "transaction id of \(message.transactionID.count) bytes")
        try require((message.clientVersion?.count ?? 0) <= KRPCMessage.maxClientVersionLength, .krpc, "long v")
        switch message.body {
        case let .query(query):
            try require(query.method.count <= KRPCMessage.maxMethodLength, .krpc, "method of \(query.method.count) bytes")
            if case let .announcePeer(_, _, port, impliedPort, token) = query {
                try require(token.count <= KRPCMessage.maxTokenLength && (impliedPort || port != 0), .krpc,
                            "announce with a \(token.count)-byte token on port \(port)")
            }
        case let .response(response):
            let v4 = response.nodes.filter { $0.ip.isIPv4 }.count
            try require(v4 <= KRPCMessage.maxNodesPerFamily && response.nodes.count - v4 <= KRPCMessage.maxNodesPerFamily,
                        .krpc, "\(response.nodes.count) nodes")
            try require(response.values.count <= KRPCMessage.maxValues, .krpc, "\(response.values.count) values")
            try require(response.nodes.allSatisfy { $0.port != 0 } && response.values.allSatisfy { $0.port != 0 },
                        .krpc, "a node or peer on port 0")
            try require((response.token?.count ?? 0) <= KRPCMessage.maxTokenLength, .krpc, "long token")
        case let .error(_, text):
            try require(text.count <= KRPCMessage.maxErrorMessageLength, .krpc, "error text of \(text.count) bytes")
        }
        let encoded = message.encoded()
        let again: KRPCMessage
        do {
            again = try KRPCMessage(decoding: encoded)
        } catch {
            throw FuzzInvariantViolation(target: .krpc, detail: "its own encoding does not decode: \(error)")
        }
        try require(again == message, .krpc, "encode -> decode changed the message")
        try require(again.encoded() == encoded, .krpc, "the encoding is not canonical")
    }
}
