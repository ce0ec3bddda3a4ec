import NIOCore
import SwarmWire

/// The peer wire decoder (handshake, messages, BEP 10 extension handshake): every frame consumes
/// bytes and never more than were given; feeding the same bytes in two pieces yields the same
/// frames as feeding them at once (what a TCP stream does); an extension handshake it accepts
/// survives encode -> decode.
enum PeerWireFuzzCheck {
    private static let limits = PeerWireLimits(pieceCount: 1000)

    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        // The first byte picks where the stream is split, so the fuzzer explores split points.
        let split = input.isEmpty ? 0 : Int(input[0]) % (input.count + 1)
        for expectHandshake in [true, false] {
            let whole = try decodeAll([input[...]], expectHandshake: expectHandshake)
            let pieces = try decodeAll([input[..<split], input[split...]], expectHandshake: expectHandshake)
            try require(whole == pieces, .peerWire,
                        "split at \(split) changed the frames (handshake first: \(expectHandshake))")
            for frame in whole.frames {
                if case .message(.extended(id: 0, let payload)) = frame { try checkExtensionHandshake(payload) }
            }
        }
        try checkExtensionHandshake(ByteBuffer(bytes: input))
    }

    /// What a decoder made of a stream: its frames (skipped unknown ids as nil) and how it ended.
    private struct Outcome: Equatable {
        var frames: [PeerWireFrame?] = []
        var error: String?
        var leftover = 0
    }

    /// Feeds `chunks` one after another into one decoder, as a channel would.
    private static func decodeAll(_ chunks: [ArraySlice<UInt8>], expectHandshake: Bool)
        throws(FuzzInvariantViolation) -> Outcome {
        var decoder = PeerWireDecoder(limits: limits, expectHandshake: expectHandshake)
        var buffer = ByteBuffer()
        var outcome = Outcome()
        for chunk in chunks {
            buffer.writeBytes(chunk)
            while true {
                let before = buffer.readerIndex
                let frame: PeerWireFrame??
                do {
                    frame = try decoder.decodeFrame(from: &buffer)
                } catch {
                    outcome.error = "\(error)"
                    return outcome
                }
                guard let frame else {
                    try require(buffer.readerIndex == before, .peerWire, "consumed bytes while asking for more")
                    break
                }
                try require(buffer.readerIndex > before && buffer.readerIndex <= buffer.writerIndex, .peerWire,
                            "a frame moved the reader from \(before) to \(buffer.readerIndex) of \(buffer.writerIndex)")
                outcome.frames.append(frame)
            }
        }
        outcome.leftover = buffer.readableBytes
        return outcome
    }

    private static func checkExtensionHandshake(_ payload: ByteBuffer) throws(FuzzInvariantViolation) {
        guard let handshake = try? ExtensionHandshake(decoding: payload) else { return }
        let encoded = handshake.encoded()
        guard encoded.readableBytes <= ExtensionHandshake.maxEncodedLength else { return }
        let again: ExtensionHandshake
        do {
            again = try ExtensionHandshake(decoding: encoded)
        } catch {
            throw FuzzInvariantViolation(target: .peerWire, detail: "its own extension handshake does not decode: \(error)")
        }
        try require(again == handshake, .peerWire, "extension handshake changed in encode -> decode")
    }
}
