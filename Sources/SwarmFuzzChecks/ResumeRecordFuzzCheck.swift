import Crypto
import SwarmBencode
import SwarmMetainfo
import SwarmStorage

/// The resume record: a record that decodes matches the torrent (piece count, info-hash, one state
/// per file) and re-encodes to exactly the bytes it came from.
///
/// A record is sealed with SHA-256, so mutated bytes almost never get past the seal; each input is
/// therefore also tried resized to the record's length and re-sealed, which reaches the field checks.
enum ResumeRecordFuzzCheck {
    /// 37 pieces (not a multiple of 8: the bitfields have spare bits) over three files, one empty.
    static let metainfo: Metainfo = {
        let pieceLength: Int64 = 16384
        let lengths: [Int64] = [100_000, 0, 16384 * 37 - 100_000 - 1]
        let files: [BencodeValue] = lengths.enumerated().map { index, length in
            .dictionary(["length": .integer(length), "path": .list([.string("f\(index)")])])
        }
        let info: BencodeValue = .dictionary([
            "files": .list(files), "name": .string("fuzz"), "piece length": .integer(pieceLength),
            "pieces": .bytes([UInt8](repeating: 7, count: 20 * 37)),
        ])
        // The bytes are built right here; a failure is a bug in this file, not an input.
        return try! Metainfo(infoDictionary: BencodeEncoder.encode(info))
    }()

    private static let sealLength = 32

    static func run(_ input: [UInt8]) throws(FuzzInvariantViolation) {
        try check(input)
        let expected = expectedLength
        var body = Array(input.prefix(expected - sealLength))
        body += [UInt8](repeating: 0, count: expected - sealLength - body.count)
        try check(body + Array(SHA256.hash(data: body)))
    }

    /// The length of a record for `metainfo`, taken from a record of it.
    private static let expectedLength = ResumeRecord(
        infoHash: metainfo.infoHash.bytes, pieceCount: metainfo.layout.pieceCount,
        verified: Bitfield(count: metainfo.layout.pieceCount),
        files: Array(repeating: .absent, count: metainfo.layout.files.count)).encoded().count

    private static func check(_ bytes: [UInt8]) throws(FuzzInvariantViolation) {
        guard let record = ResumeRecord.decode(bytes, metainfo: metainfo) else { return }
        let pieceCount = metainfo.layout.pieceCount
        try require(record.pieceCount == pieceCount && record.verified.count == pieceCount
                    && record.unsynced.count == pieceCount, .resumeRecord,
                    "record for \(record.pieceCount) pieces (bitfields \(record.verified.count), \(record.unsynced.count)) against \(pieceCount)")
        try require(record.infoHash == metainfo.infoHash.bytes, .resumeRecord, "another torrent's info-hash")
        try require(record.files.count == metainfo.layout.files.count, .resumeRecord,
                    "\(record.files.count) file states for \(metainfo.layout.files.count) files")
        try require(record.encoded() == bytes, .resumeRecord, "re-encoding changed the record")
        _ = record.claimedPieces(inBoot: record.bootID)
    }
}
