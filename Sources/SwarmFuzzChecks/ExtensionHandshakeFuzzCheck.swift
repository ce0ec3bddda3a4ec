import NIOCore
import SwarmMetainfo
import SwarmWire

/// The BEP 10 extension handshake: what decodes stays within its caps (`m` names and their
/// lengths, `v`, `metadata_size` at most 32 MiB, `yourip` 4 or 16 bytes, `reqq` 1...65535, the
/// port positive) and survives encode -> decode unchanged.
enum ExtensionHandshakeFuzzCheck {
    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        guard let handshake = try? ExtensionHandshake(decoding: ByteBuffer(bytes: input)) else { return }
        try require(handshake.m.count <= ExtensionHandshake.maxExtensionCount, .extensionHandshake,
                    "\(handshake.m.count) extension names")
        try require(handshake.m.keys.allSatisfy { $0.utf8.count <= ExtensionHandshake.maxNameLength },
                    .extensionHandshake, "an extension name over \(ExtensionHandshake.maxNameLength) bytes")
        try require((handshake.clientName?.utf8.count ?? 0) <= ExtensionHandshake.maxClientNameLength,
                    .extensionHandshake, "client name of \(handshake.clientName?.utf8.count ?? 0) bytes")
        if let size = handshake.metadataSize {
            try require(size >= 1 && size <= MetadataLayout.maxTotalSize, .extensionHandshake, "metadata_size \(size)")
        }
        if let yourIP = handshake.yourIP {
            try require(yourIP.count == 4 || yourIP.count == 16, .extensionHandshake, "yourip of \(yourIP.count) bytes")
        }
        try require((1...ExtensionHandshake.maxRequestQueue).contains(handshake.reqq ?? 1) && (handshake.listenPort ?? 1) >= 1,
                    .extensionHandshake,
                    "reqq \(String(describing: handshake.reqq)), port \(String(describing: handshake.listenPort))")
        let encoded = handshake.encoded()
        let again: ExtensionHandshake
        do {
            again = try ExtensionHandshake(decoding: encoded)
        } catch {
            throw FuzzInvariantViolation(target: .extensionHandshake, detail: "its own encoding does not decode: \(error)")
        }
        try require(again == handshake, .extensionHandshake, "encode -> decode changed the handshake")
    }
}
