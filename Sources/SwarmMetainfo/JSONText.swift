/// JSON text for the few documents swarmfs writes by hand (`info --json`, `status --json`), where
/// a stable key order matters and Foundation is not wanted.
public enum JSONText {
    /// A JSON string literal: quotes, backslashes and every control character (and DEL) escaped,
    /// everything else as is (JSON text is UTF-8).
    public static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
