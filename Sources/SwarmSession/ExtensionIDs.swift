import SwarmWire

/// The BEP 10 message ids we ask peers to use for the extensions we speak (our `m` dictionary).
/// The numbers are ours to choose; these are libtorrent's, which some clients assume.
enum OurExtensionID {
    /// BEP 11 `ut_pex`.
    static let pex: UInt8 = 1
    /// BEP 9 `ut_metadata`.
    static let metadata: UInt8 = 2

    /// Our `m` dictionary: metadata exchange unless the torrent is private (BEP 27 peers learn
    /// private torrents only from their tracker), peer exchange likewise.
    static func dictionary(isPrivate: Bool) -> [String: UInt8] {
        isPrivate ? [:] : [ExtensionHandshake.metadataExtension: metadata, ExtensionHandshake.pexExtension: pex]
    }
}
