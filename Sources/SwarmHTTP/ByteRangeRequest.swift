/// What a request's `Range` header asks of a file of known length (RFC 9110 §14).
///
/// Only single byte ranges are honoured: `bytes=A-B`, `bytes=A-` and `bytes=-N`. A header that
/// does not parse, another unit, or several ranges (`bytes=0-1,5-9`) is ignored and the whole
/// file is sent with 200, which the RFC allows and every player copes with (browsers and
/// ffmpeg only ever ask for one range). Every number comes from the client: parsed with
/// overflow checks, never trusted.
public enum ByteRangeRequest: Equatable, Sendable {
    /// Send the whole file (200).
    case full
    /// Send bytes `range` (206 with `Content-Range: bytes lower-(upper-1)/length`).
    case partial(Range<Int64>)
    /// Nothing of the file is in the range (416 with `Content-Range: bytes */length`).
    case unsatisfiable

    /// The most bytes of header value looked at: a longer one is ignored (sent whole).
    public static let headerLimit = 256

    /// Decides how to answer `header` (nil: no Range header) for a file of `length` bytes.
    public static func decide(header: String?, length: Int64) -> ByteRangeRequest {
        guard let header, length >= 0 else { return .full }
        let bytes = Array(header.utf8)
        guard bytes.count <= headerLimit else { return .full }
        guard let spec = parse(bytes) else { return .full }
        switch spec {
        case let .fromStart(first, last):
            guard first < length else { return .unsatisfiable }
            let end = last.map { min($0, length - 1) } ?? (length - 1)
            return .partial(first..<(end + 1))
        case let .suffix(count):
            guard count > 0, length > 0 else { return .unsatisfiable }
            return .partial(max(0, length - count)..<length)
        }
    }

    /// One range as written, before the file's length is applied.
    enum Spec: Equatable {
        /// `first-last` or `first-` (last nil); last >= first.
        case fromStart(first: Int64, last: Int64?)
        /// `-count`: the last `count` bytes.
        case suffix(count: Int64)
    }

    /// Parses `bytes=SPEC` with optional blanks around the pieces; nil for anything else,
    /// including several ranges.
    static func parse(_ bytes: [UInt8]) -> Spec? {
        var index = 0
        func skipBlanks() {
            while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
        }
        func number() -> Int64? {
            let start = index
            var value: Int64 = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int64(bytes[index] - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { return nil }
                value = sum
                index += 1
            }
            return index > start ? value : nil
        }
        skipBlanks()
        let unit = Array("bytes".utf8)
        guard bytes.count >= index + unit.count,
              zip(bytes[index..<(index + unit.count)], unit).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        index += unit.count
        skipBlanks()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { return nil }
        index += 1
        skipBlanks()
        let spec: Spec
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            index += 1
            guard let count = number() else { return nil }
            spec = .suffix(count: count)
        } else {
            guard let first = number() else { return nil }
            skipBlanks()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "-") else { return nil }
            index += 1
            skipBlanks()
            if let last = number() {
                guard last >= first else { return nil }
                spec = .fromStart(first: first, last: last)
            } else {
                spec = .fromStart(first: first, last: nil)
            }
        }
        skipBlanks()
        // Anything left (a second range, junk) makes the header one we do not honour.
        return index == bytes.count ? spec : nil
    }
}
