import SwarmBencode

/// Why a .torrent cannot be used. `description` is one sentence; errors from
/// `Metainfo(contentsOf:)` are wrapped in `.inFile` so the sentence names the file.
public indirect enum MetainfoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened or read (missing, permission denied, I/O error).
    case cannotRead(path: String, reason: String)
    /// A directory was given where a .torrent file was expected.
    case isDirectory(path: String)
    /// The input is larger than any sane .torrent.
    case tooLarge(size: Int64, limit: Int)
    /// The bytes are not valid bencode.
    case invalidBencode(BencodeError)
    /// The top level is not a dictionary.
    case notADictionary
    /// A required field is absent (named like `info.piece length` or `info.files[3].length`).
    case missingField(String)
    /// A field has the wrong bencode type.
    case wrongType(field: String, expected: String)
    /// `piece length` is zero, negative or above 256 MiB.
    case invalidPieceLength(Int64)
    /// `pieces` is not a multiple of 20 bytes.
    case piecesNotMultipleOf20(byteCount: Int)
    /// `pieces` holds a different number of hashes than the total length needs.
    case pieceCountMismatch(expected: Int, actual: Int)
    /// A file length is negative.
    case negativeLength(field: String, value: Int64)
    /// The sum of the file lengths does not fit in 63 bits.
    case totalLengthOverflow
    /// Size arithmetic the torrent asks for would overflow 64 bits (named like
    /// `piece length × piece count`).
    case sizeOverflow(String)
    /// The torrent's name is empty (libtorrent refuses such a torrent too).
    case emptyName
    /// The torrent's total length is 0: there is nothing to download (libtorrent refuses it too).
    case emptyTorrent
    /// Both `length` and `files` are present in the info dictionary.
    case lengthAndFiles
    /// `files` is an empty list.
    case noFiles
    /// A file's `path` list is empty.
    case emptyFilePath(fileIndex: Int)
    /// The error happened while loading `path`.
    case inFile(path: String, underlying: MetainfoError)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason): "cannot read \(path): \(reason)"
        case let .isDirectory(path): "\(path) is a directory, not a .torrent file"
        case let .tooLarge(size, limit): "the torrent is \(size) bytes, more than the \(limit)-byte limit"
        case let .invalidBencode(error): "the torrent is not valid bencode: \(error)"
        case .notADictionary: "the torrent is not a bencoded dictionary"
        case let .missingField(field): "the torrent has no '\(field)' field"
        case let .wrongType(field, expected): "the torrent's '\(field)' field is not \(expected)"
        case let .invalidPieceLength(value):
            "the torrent's piece length \(value) is not between 1 byte and 256 MiB"
        case let .piecesNotMultipleOf20(count):
            "the torrent's 'pieces' field has \(count) bytes, not a multiple of 20"
        case let .pieceCountMismatch(expected, actual):
            "the torrent lists \(actual) piece hashes but its size needs \(expected)"
        case let .negativeLength(field, value): "the torrent's '\(field)' is negative (\(value))"
        case .totalLengthOverflow: "the torrent's total length is absurdly large"
        case let .sizeOverflow(what): "the torrent's sizes overflow 64-bit arithmetic (\(what))"
        case .emptyName: "the torrent's name is empty"
        case .emptyTorrent: "the torrent's total length is 0, so it has no data"
        case .lengthAndFiles: "the torrent has both 'length' and 'files' in its info dictionary"
        case .noFiles: "the torrent's 'files' list is empty"
        case let .emptyFilePath(index): "the torrent's file \(index) has an empty path"
        case let .inFile(path, underlying):
            switch underlying {
            case .cannotRead, .isDirectory, .inFile: underlying.description
            default: "\(path): " + underlying.description
            }
        }
    }

    /// A stable machine-readable name of the case (of the underlying error for `.inFile`), e.g.
    /// `pieceCountMismatch`; used by tests and JSON error output.
    public var code: String {
        switch self {
        case .cannotRead: "cannotRead"
        case .isDirectory: "isDirectory"
        case .tooLarge: "tooLarge"
        case .invalidBencode: "invalidBencode"
        case .notADictionary: "notADictionary"
        case .missingField: "missingField"
        case .wrongType: "wrongType"
        case .invalidPieceLength: "invalidPieceLength"
        case .piecesNotMultipleOf20: "piecesNotMultipleOf20"
        case .pieceCountMismatch: "pieceCountMismatch"
        case .negativeLength: "negativeLength"
        case .totalLengthOverflow: "totalLengthOverflow"
        case .sizeOverflow: "sizeOverflow"
        case .emptyName: "emptyName"
        case .emptyTorrent: "emptyTorrent"
        case .lengthAndFiles: "lengthAndFiles"
        case .noFiles: "noFiles"
        case .emptyFilePath: "emptyFilePath"
        case let .inFile(_, underlying): underlying.code
        }
    }

    /// The error without the `.inFile` wrapper.
    public var underlying: MetainfoError {
        if case let .inFile(_, inner) = self { return inner.underlying }
        return self
    }
}
