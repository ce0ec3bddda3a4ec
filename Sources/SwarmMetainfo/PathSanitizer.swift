/// Turns names from a torrent into safe path components: nothing a torrent says can make swarmfs
/// read or write outside its directory or show a path outside the mount.
///
/// Rules: bytes are decoded as UTF-8, lossily; `/` and NUL become `_`; empty, `.` and `..`
/// components are dropped from file paths (as libtorrent does) and replaced by `_` where a name
/// is required; names are trimmed to 255 bytes of UTF-8 at a character boundary; duplicates in
/// one folder, and a file colliding with a folder, are renamed deterministically `stem (2).ext`,
/// `stem (3).ext`, … in torrent order.
public enum PathSanitizer {
    /// The longest component most Linux filesystems accept, in bytes.
    public static let maxComponentBytes = 255

    /// Names a torrent may not take at the top of its download DIR: swarmfs keeps its own state
    /// in `DIR/.swarmfs/`, and a torrent named so must not overwrite it.
    public static let reservedTopLevelNames: Set<String> = [".swarmfs"]

    /// A safe single name (never empty, `.`, `..`, never containing `/` or NUL).
    public static func name(_ raw: [UInt8]) -> String {
        component(raw) ?? "_"
    }

    /// A safe torrent name: like `name(_:)`, and never one of `reservedTopLevelNames`
    /// (`.swarmfs` becomes `_.swarmfs`).
    public static func torrentName(_ raw: [UInt8]) -> String {
        let safe = name(raw)
        return reservedTopLevelNames.contains(safe) ? "_" + safe : safe
    }

    /// A safe component, or nil when the raw one should be dropped (empty, `.`, `..`).
    public static func component(_ raw: [UInt8]) -> String? {
        // `/` and NUL are ASCII, which never occurs inside a multi-byte UTF-8 sequence, so they
        // can be replaced byte-wise before decoding.
        let slash = UInt8(ascii: "/")
        let underscore = UInt8(ascii: "_")
        let bytes = raw.contains { $0 == slash || $0 == 0 }
            ? raw.map { $0 == slash || $0 == 0 ? underscore : $0 }
            : raw
        let dot = UInt8(ascii: ".")
        if bytes.isEmpty || bytes == [dot] || bytes == [dot, dot] { return nil }
        let decoded = String(decoding: bytes, as: UTF8.self)
        let cleaned = decoded.utf8.count > maxComponentBytes ? trimmed(decoded, toBytes: maxComponentBytes) : decoded
        return cleaned.isEmpty ? "_" : cleaned
    }

    /// A safe component from already-decoded text, or nil for empty, `.` and `..`.
    public static func component(_ text: String) -> String? {
        component(Array(text.utf8))
    }

    /// Sanitises the components of one file path; never returns an empty array.
    public static func path(_ raw: [[UInt8]]) -> [String] {
        let components = raw.compactMap(component(_:))
        return components.isEmpty ? ["_"] : components
    }

    /// `text` cut to at most `limit` UTF-8 bytes at a character boundary (or, if one character
    /// alone is longer, at a Unicode scalar boundary).
    public static func trimmed(_ text: String, toBytes limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var result = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            if used + size > limit { break }
            result.append(character)
            used += size
        }
        if result.isEmpty {
            var scalars = String.UnicodeScalarView()
            for scalar in text.unicodeScalars {
                let size = String(scalar).utf8.count
                if used + size > limit { break }
                scalars.append(scalar)
                used += size
            }
            result = String(scalars)
        }
        return result
    }

    /// `name` with the ` (n)` suffix before its extension: `movie (2).mkv`, `notes (3)`.
    public static func numbered(_ name: String, _ number: Int) -> String {
        let suffix = " (\(number))"
        var stem = name
        var ext = ""
        if let dot = name.lastIndex(of: "."), dot != name.startIndex {
            stem = String(name[..<dot])
            ext = String(name[dot...])
        }
        if ext.utf8.count + suffix.utf8.count >= maxComponentBytes {
            stem = name
            ext = ""
        }
        stem = trimmed(stem, toBytes: maxComponentBytes - suffix.utf8.count - ext.utf8.count)
        return stem + suffix + ext
    }

    /// Makes the paths of one torrent unique: files are processed in order, each colliding file
    /// or folder gets the next free ` (n)` name in its folder. The result has one path per input,
    /// in input order; folders keep one consistent (possibly renamed) name throughout.
    public static func uniquePaths(_ paths: [[String]]) -> [[String]] {
        let root = DirectoryNode()
        return paths.map { path in
            var node = root
            var result: [String] = []
            result.reserveCapacity(path.count)
            for (position, original) in path.enumerated() {
                if position == path.count - 1 {
                    let unique = node.freeName(for: original)
                    node.entries[unique] = .file
                    result.append(unique)
                } else {
                    let (actual, child) = node.directory(named: original)
                    result.append(actual)
                    node = child
                }
            }
            return result
        }
    }
}

/// A folder under construction while deduplicating paths.
private final class DirectoryNode {
    enum Entry {
        case file
        case directory(DirectoryNode)
    }

    /// Names in use, whether by files or folders.
    var entries: [String: Entry] = [:]
    /// Original folder name -> the name it was given here.
    var aliases: [String: String] = [:]
    /// The next suffix number to try per original name, so that many duplicates stay linear.
    var nextNumber: [String: Int] = [:]

    func freeName(for original: String) -> String {
        guard entries[original] != nil else { return original }
        var number = nextNumber[original, default: 2]
        while entries[PathSanitizer.numbered(original, number)] != nil { number += 1 }
        nextNumber[original] = number + 1
        return PathSanitizer.numbered(original, number)
    }

    func directory(named original: String) -> (String, DirectoryNode) {
        if let actual = aliases[original], case let .directory(node)? = entries[actual] {
            return (actual, node)
        }
        let actual = freeName(for: original)
        let node = DirectoryNode()
        entries[actual] = .directory(node)
        aliases[original] = actual
        return (actual, node)
    }
}
