import NIOCore
import SwarmMetainfo
import SwarmWire

/// BEP 11 `ut_pex`: a decoded message holds at most `maxDecodedPeers` entries per list, IP
/// literals only, no port 0, no repeats, nothing both added and dropped; one within BEP 11's 50
/// and 50 encodes, and decodes back to itself.
enum PexFuzzCheck {
    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        guard let message = try? PexMessage(decoding: ByteBuffer(bytes: input)) else { return }
        let cap = 2 * PexMessage.maxDecodedPeers  // one list per address family
        try require(message.added.count <= cap && message.dropped.count <= cap, .pex,
                    "\(message.added.count) added, \(message.dropped.count) dropped")
        let addresses = message.added.map(\.address) + message.dropped
        try require(Set(addresses).count == addresses.count, .pex, "an address repeats")
        try require(addresses.allSatisfy { $0.port != 0 && $0.ipAddress != nil }, .pex, "port 0 or a host name")
        guard message.added.count <= PexMessage.maxPeersPerMessage, message.dropped.count <= PexMessage.maxPeersPerMessage,
              !addresses.isEmpty else { return }
        let again: PexMessage
        do {
            again = try PexMessage(decoding: try message.encoded())
        } catch {
            throw FuzzInvariantViolation(target: .pex, detail: "encode -> decode failed: \(error)")
        }
        try require(again == message, .pex, "encode -> decode changed the message")
    }
}
