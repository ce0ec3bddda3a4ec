/// Text a tracker sends (failure reasons, warnings), made safe to log: one line of printable
/// characters, at most `maxLength` of them. Trackers are hostile like peers: they send control
/// characters (a forged log line after a newline), ANSI escapes (a cleared terminal) and
/// megabytes.
public enum TrackerText {
    /// The most characters kept (one more, `…`, says the text was longer).
    public static let maxLength = 200

    /// Line breaks and tabs become spaces, other control characters (C0, DEL, C1, and the
    /// Unicode line and paragraph separators and bidirectional overrides) become `?`; the text
    /// is cut at `maxLength`.
    public static func oneLine(_ text: String, maxLength: Int = TrackerText.maxLength) -> String {
        let limit = max(1, maxLength)
        var scalars = String.UnicodeScalarView()
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit {
                scalars.removeLast()
                scalars.append("…")
                break
            }
            scalars.append(printable(scalar))
            count += 1
        }
        return String(scalars)
    }

    private static func printable(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0x09, 0x0A, 0x0B, 0x0C, 0x0D: " "
        case 0x00..<0x20, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: "?"
        default: scalar
        }
    }
}
