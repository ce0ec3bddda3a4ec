import SwarmMetainfo

/// Magnet links: a parsed link's `uri` parses back to the same link.
enum MagnetFuzzCheck {
    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        guard let link = try? MagnetLink(parsing: String(decoding: input, as: UTF8.self)) else { return }
        let uri = link.uri
        let again: MagnetLink
        do {
            again = try MagnetLink(parsing: uri)
        } catch {
            throw FuzzInvariantViolation(target: .magnet, detail: "its own uri \(uri.debugDescription) does not parse: \(error)")
        }
        try require(again == link, .magnet, "uri \(uri.debugDescription) parses to a different link")
    }
}
