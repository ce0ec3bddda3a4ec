import NIOCore
import SwarmBencode
import SwarmMetainfo

/// A BEP 9 `ut_metadata` message: the payload of `PeerMessage.extended` with the id the peer gave
/// `ut_metadata` in its extension handshake.
///
/// On the wire it is a bencoded dictionary (`msg_type`, `piece`, and for data `total_size`); a
/// data message carries the metadata block right after the dictionary, outside it.
public enum MetadataMessage: Sendable, Equatable {
    /// Asks for metadata piece `piece`.
    case request(piece: Int)
    /// Metadata piece `piece` of an info dictionary of `totalSize` bytes. `block` is a slice of
    /// the payload, exactly `MetadataLayout(totalSize:).length(ofPiece: piece)` bytes long.
    case data(piece: Int, totalSize: Int, block: ByteBuffer)
    /// The sender will not send piece `piece` (it does not have the metadata).
    case reject(piece: Int)

    /// The largest payload accepted: a full piece plus room for the dictionary.
    public static let maxEncodedLength = MetadataLayout.pieceLength + 1024

    private static let limits = BencodeLimits(maxDepth: 4, maxInputSize: maxEncodedLength, maxElementCount: 64)

    /// The piece the message is about.
    public var piece: Int {
        switch self {
        case let .request(piece), let .data(piece, _, _), let .reject(piece): piece
        }
    }

    /// Decodes a `ut_metadata` payload. Returns nil for a `msg_type` other than request, data
    /// and reject, which BEP 9 says to ignore. Throws for anything malformed: not a dictionary,
    /// missing or ill-typed `msg_type` or `piece`, a piece index past `MetadataLayout.maxPieceCount`,
    /// and for data: a `total_size` outside 1 byte...32 MiB, a piece past the end, or a block that
    /// is not exactly that piece's length. Bytes after a request's or reject's dictionary are ignored.
    public static func decode(_ payload: ByteBuffer) throws(PeerWireError) -> MetadataMessage? {
        guard payload.readableBytes <= maxEncodedLength else {
            throw .badMetadataMessage(detail: "\(payload.readableBytes) bytes is too large")
        }
        let bytes = Array(payload.readableBytesView)
        let document: BencodeDocument
        do {
            document = try BencodeDecoder(limits: limits).decodePrefix(bytes)
        } catch {
            throw .badMetadataMessage(detail: "\(error)")
        }
        let value = document.value
        guard value.dictionary != nil else { throw .badMetadataMessage(detail: "not a dictionary") }
        guard let type = value["msg_type"]?.integer else { throw .badMetadataMessage(detail: "no integer msg_type") }
        guard let rawPiece = value["piece"]?.integer else { throw .badMetadataMessage(detail: "no integer piece") }
        guard rawPiece >= 0, rawPiece < Int64(MetadataLayout.maxPieceCount) else {
            throw .badMetadataMessage(detail: "piece \(rawPiece) is out of range")
        }
        let piece = Int(rawPiece)
        switch type {
        case 0:
            return .request(piece: piece)
        case 2:
            return .reject(piece: piece)
        case 1:
            guard let rawTotal = value["total_size"]?.integer else {
                throw .badMetadataMessage(detail: "data without an integer total_size")
            }
            let layout: MetadataLayout
            do {
                layout = try MetadataLayout(totalSize: rawTotal)
            } catch {
                throw .badMetadataMessage(detail: "\(error)")
            }
            guard let expected = layout.length(ofPiece: piece) else {
                throw .badMetadataMessage(detail: "piece \(piece) of \(layout.pieceCount)")
            }
            let blockLength = bytes.count - document.consumed
            guard blockLength == expected else {
                throw .badMetadataMessage(detail: "piece \(piece) has \(blockLength) bytes, expected \(expected)")
            }
            // In range by the checks above: consumed <= readableBytes.
            let block = payload.getSlice(at: payload.readerIndex + document.consumed, length: blockLength) ?? ByteBuffer()
            return .data(piece: piece, totalSize: layout.totalSize, block: block)
        default:
            return nil
        }
    }

    /// The payload to send as `PeerMessage.extended(id: <their ut_metadata id>, payload:)`.
    public func encoded() -> ByteBuffer {
        let dictionary: BencodeValue
        switch self {
        case let .request(piece):
            dictionary = ["msg_type": 0, "piece": .integer(Int64(piece))]
        case let .reject(piece):
            dictionary = ["msg_type": 2, "piece": .integer(Int64(piece))]
        case let .data(piece, totalSize, _):
            dictionary = ["msg_type": 1, "piece": .integer(Int64(piece)), "total_size": .integer(Int64(totalSize))]
        }
        var buffer = ByteBuffer(bytes: BencodeEncoder.encode(dictionary))
        if case var .data(_, _, block) = self { buffer.writeBuffer(&block) }
        return buffer
    }
}
