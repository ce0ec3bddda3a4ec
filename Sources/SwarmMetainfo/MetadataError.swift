/// Why metadata fetched over `ut_metadata` (BEP 9) was not accepted.
public enum MetadataError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stated metadata size outside 1...`limit` bytes.
    case sizeOutOfRange(size: Int64, limit: Int)
    /// A piece index the metadata does not have.
    case pieceOutOfRange(piece: Int64, pieceCount: Int)
    /// A data block whose length is not the piece's length (16 KiB, or the rest for the last).
    case wrongBlockLength(piece: Int, length: Int, expected: Int)
    /// A data message stating another total size than the one being assembled.
    case totalSizeMismatch(stated: Int64, expected: Int)
    /// A data block for a piece that was not requested from that peer (or has already arrived).
    case notRequested(piece: Int)

    public var description: String {
        switch self {
        case let .sizeOutOfRange(size, limit):
            "metadata size \(size) is outside 1...\(limit) bytes"
        case let .pieceOutOfRange(piece, pieceCount):
            "metadata piece \(piece) does not exist (there are \(pieceCount))"
        case let .wrongBlockLength(piece, length, expected):
            "metadata piece \(piece) came with \(length) bytes, expected \(expected)"
        case let .totalSizeMismatch(stated, expected):
            "metadata total size \(stated) differs from the \(expected) bytes being fetched"
        case let .notRequested(piece):
            "metadata piece \(piece) was not requested from this peer"
        }
    }
}
