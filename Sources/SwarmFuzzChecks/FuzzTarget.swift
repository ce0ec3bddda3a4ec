/// The parsers under fuzzing, each with a check that feeds it one input and asserts invariants
/// beyond "did not trap".
///
/// Used by the libFuzzer executables of the package in `Tests/Fuzz` and by the unit test that
/// replays the corpus under `Tests/Fuzz/Corpus/<rawValue>/`. A check never traps on its own: it
/// throws `FuzzInvariantViolation`, and the caller decides (the fuzz executable traps so that
/// libFuzzer saves the input; the unit test records a failure).
public enum FuzzTarget: String, CaseIterable, Sendable {
    case bencode
    case metainfo
    case peerWire = "peer-wire"
    case httpTracker = "http-tracker"
    case udpTracker = "udp-tracker"
    case resumeRecord = "resume-record"
    case magnet
    case extensionHandshake = "extension-handshake"
    case utMetadata = "ut-metadata"
    case pex
    case krpc
    case dhtTableState = "dht-table-state"
    case lsd
    case dhtNode = "dht-node"
    case httpRequest = "http-request"
    case mseHandshake = "mse-handshake"
    case utp

    /// Runs `input` through this target's parser and checks its invariants.
    public func check(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        switch self {
        case .bencode: try BencodeFuzzCheck.run(input)
        case .metainfo: try MetainfoFuzzCheck.run(input)
        case .peerWire: try PeerWireFuzzCheck.run(input)
        case .httpTracker: try TrackerReplyFuzzCheck.runHTTP(input)
        case .udpTracker: try TrackerReplyFuzzCheck.runUDP(input)
        case .resumeRecord: try ResumeRecordFuzzCheck.run(input)
        case .magnet: try MagnetFuzzCheck.run(input)
        case .extensionHandshake: try ExtensionHandshakeFuzzCheck.run(input)
        case .utMetadata: try MetadataMessageFuzzCheck.run(input)
        case .pex: try PexFuzzCheck.run(input)
        case .krpc: try KRPCFuzzCheck.run(input)
        case .dhtTableState: try DHTTableStateFuzzCheck.run(input)
        case .lsd: try LocalDiscoveryFuzzCheck.run(input)
        case .dhtNode: try DHTNodeFuzzCheck.run(input)
        case .httpRequest: try HTTPRequestFuzzCheck.run(input)
        case .mseHandshake: try MSEHandshakeFuzzCheck.run(input)
        case .utp: try UTPFuzzCheck.run(input)
        }
    }

    /// The libFuzzer entry point's body: runs the check and traps on a violation, printing it.
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        let input = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
        do {
            try check(input)
        } catch {
            fatalError("\(error)")
        }
    }
}

/// A parser accepted or produced something that contradicts one of its documented invariants.
public struct FuzzInvariantViolation: Error, CustomStringConvertible {
    /// The target whose check failed.
    public let target: FuzzTarget
    /// Which invariant, with the values that broke it.
    public let detail: String

    public var description: String { "\(target.rawValue): invariant violated: \(detail)" }
}

/// Throws a violation of `target` unless `condition` holds.
@inline(__always)
func require(_ condition: Bool, _ target: FuzzTarget, _ detail: @autoclosure () -> String)
    throws(FuzzInvariantViolation) {
    if !condition { throw FuzzInvariantViolation(target: target, detail: detail()) }
}
