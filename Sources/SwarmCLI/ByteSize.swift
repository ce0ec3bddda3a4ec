import ArgumentParser

/// A byte count given on the command line: a plain number of bytes, or one with a binary suffix
/// K, M, G or T (optionally followed by "B" or "iB", any case): "64M" = 64 × 2^20 bytes.
/// Used by `--cache-size` and `cache prune --max-size`.
struct ByteSize: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    /// The number of bytes.
    let bytes: Int64

    init(bytes: Int64) {
        self.bytes = bytes
    }

    /// Parses "123", "64M", "1.5G", "10KiB"; nil for anything else, negatives, or overflow.
    init?(argument: String) {
        guard let value = Self.parse(argument) else { return nil }
        self.bytes = value
    }

    var description: String { "\(bytes)" }

    /// The parser behind `init?(argument:)`, for callers that have a string.
    static func parse(_ text: String) -> Int64? {
        var body = text.trimmingSpaces.uppercased()
        for unit in ["IB", "B"] where body.hasSuffix(unit) && body.count > unit.count {
            body.removeLast(unit.count)
            break
        }
        var multiplier: Double = 1
        if let last = body.last, let exponent = "KMGT".firstIndex(of: last) {
            multiplier = pow1024("KMGT".distance(from: "KMGT".startIndex, to: exponent) + 1)
            body.removeLast()
        }
        if let whole = Int64(body), whole >= 0 {
            let (product, overflow) = whole.multipliedReportingOverflow(by: Int64(multiplier))
            return overflow ? nil : product
        }
        guard !body.isEmpty, body.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              body.filter({ $0 == "." }).count <= 1, let number = Double(body) else { return nil }
        let total = (number * multiplier).rounded(.down)
        guard total.isFinite, total >= 0, total < 9.2e18 else { return nil }
        return Int64(total)
    }

    /// "1.5 GiB"-style rendering for messages and tables.
    static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let rounded = (value * 10).rounded() / 10
        return "\(rounded) \(units[unit])"
    }

    private static func pow1024(_ exponent: Int) -> Double {
        (0..<exponent).reduce(1.0) { value, _ in value * 1024 }
    }
}

private extension String {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
