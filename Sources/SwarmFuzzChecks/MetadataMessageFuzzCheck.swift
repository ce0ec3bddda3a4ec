import NIOCore
import SwarmMetainfo
import SwarmWire

/// BEP 9 `ut_metadata` messages: a decoded data message's block is exactly its piece's length
/// within a total size of at most 32 MiB; every message survives encode -> decode; and an
/// assembler fed the block as the only requested piece either stores it or, when it completes
/// the metadata (which does not hash to the made-up info-hash), drops it and names its peer.
enum MetadataMessageFuzzCheck {
    /// No metadata hashes to this (SHA-1 of the empty input is never an info dictionary's).
    private static let infoHash = InfoHash.sha1(of: [])

    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        guard let message = try? MetadataMessage.decode(ByteBuffer(bytes: input)) ?? nil else { return }
        try require(message.piece >= 0 && message.piece < MetadataLayout.maxPieceCount, .utMetadata,
                    "piece \(message.piece)")
        let again: MetadataMessage?
        do {
            again = try MetadataMessage.decode(message.encoded())
        } catch {
            throw FuzzInvariantViolation(target: .utMetadata, detail: "its own encoding does not decode: \(error)")
        }
        try require(again == message, .utMetadata, "encode -> decode changed the message")
        guard case let .data(piece, totalSize, block) = message else { return }
        let layout: MetadataLayout
        do {
            layout = try MetadataLayout(totalSize: Int64(totalSize))
        } catch {
            throw FuzzInvariantViolation(target: .utMetadata, detail: "accepted total size \(totalSize): \(error)")
        }
        try require(layout.length(ofPiece: piece) == block.readableBytes, .utMetadata,
                    "piece \(piece) of \(totalSize) bytes has a \(block.readableBytes)-byte block")
        try checkAssembler(piece: piece, totalSize: totalSize, block: Array(block.readableBytesView))
    }

    private static func checkAssembler(piece: Int, totalSize: Int, block: [UInt8]) throws(FuzzInvariantViolation) {
        guard var assembler = try? MetadataAssembler<Int>(infoHash: infoHash, totalSize: Int64(totalSize),
                                                          maxOutstandingPerPeer: MetadataLayout.maxPieceCount)
        else {
            throw FuzzInvariantViolation(target: .utMetadata, detail: "no assembler for \(totalSize) bytes")
        }
        let now = ContinuousClock.now
        let requested = assembler.requests(for: 7, now: now)
        try require(requested == Array(0..<assembler.layout.pieceCount), .utMetadata,
                    "\(requested.count) requests for \(assembler.layout.pieceCount) pieces")
        try require((try? assembler.received(piece: Int64(piece), totalSize: Int64(totalSize), data: block, from: 8)) == nil,
                    .utMetadata, "a piece from a peer it was not requested from was taken")
        let progress: MetadataAssembler<Int>.Progress
        do {
            progress = try assembler.received(piece: Int64(piece), totalSize: Int64(totalSize), data: block, from: 7)
        } catch {
            throw FuzzInvariantViolation(target: .utMetadata, detail: "a requested, valid block was refused: \(error)")
        }
        if assembler.layout.pieceCount == 1 {
            try require(progress == .verificationFailed(contributors: [7]) && assembler.receivedCount == 0,
                        .utMetadata, "a wrong whole was not dropped: \(progress)")
        } else {
            try require(progress == .stored && assembler.receivedCount == 1, .utMetadata, "one block gave \(progress)")
        }
    }
}
