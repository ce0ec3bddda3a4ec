/// Turns names from a torrent into safe path components: nothing a torrent says can make swarmfs
/// read or write outside its directory or show a path outside the mount.
///
/// Rules: bytes are decoded as UTF-8, lossily; `/` and NUL become `_`; empty, `.` and `..`
/// components are dropped from file paths (as libtorrent does) and replaced by `_` where a name
/// is required; names are trimmed to 255 bytes of UTF-8 at a character boundary (a scalar
/// boundary when that would leave an empty, `.` or `..` name); duplicates in one folder are
/// renamed deterministically `stem (2).ext`, `stem (3).ext`, … in torrent order, and a file that
/// has the name of a folder is renamed while the folder keeps its path (as libtorrent does, so a
/// folder another client downloaded is adopted as is).
///
/// Names are compared byte for byte, never by Unicode equivalence: Linux filesystems store NFC
/// and NFD spellings of one name as two names, and so does libtorrent.
///
/// Invariant: no component this type returns is empty, `.` or `..`, contains `/` or NUL, or is
/// longer than `maxComponentBytes`.
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
        // Trimming can shorten a long name to nothing, `.` or `..`; such a name would be the
        // folder itself or its parent.
        return isForbidden(cleaned) ? "_" : cleaned
    }

    /// True for an empty, `.` or `..` component (compared as bytes).
    static func isForbidden(_ component: String) -> Bool {
        var bytes = component.utf8.makeIterator()
        let dot = UInt8(ascii: ".")
        guard let first = bytes.next() else { return true }
        guard first == dot else { return false }
        guard let second = bytes.next() else { return true }
        return second == dot && bytes.next() == nil
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

    /// `text` cut to at most `limit` UTF-8 bytes at a character boundary, or at a Unicode scalar
    /// boundary when whole characters would leave nothing, `.` or `..` (one character longer
    /// than the limit, such as `.` with hundreds of combining accents).
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
        if isForbidden(result) {
            used = 0
            var scalars = String.UnicodeScalarView()
            for scalar in text.unicodeScalars {
                let size = UTF8.width(scalar)
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

    /// Makes the paths of one torrent unique. Folders keep their names (two folders of one name
    /// are one folder); files are processed in order, and a file whose name is taken in its
    /// folder — by a folder anywhere in the torrent, or by an earlier file — gets the next free
    /// ` (n)` name there. The result has one path per input, in input order.
    public static func uniquePaths(_ paths: [[String]]) -> [[String]] {
        let root = DirectoryNode()
        // Folders first, so that a file listed before the folder of its name still yields to it.
        for path in paths {
            var node = root
            for folder in path.dropLast() { node = node.directory(named: folder) }
        }
        return paths.map { path in
            var node = root
            for folder in path.dropLast() { node = node.directory(named: folder) }
            guard let file = path.last else { return path }
            var result = Array(path.dropLast())
            result.append(node.claimFileName(for: file))
            return result
        }
    }
}

/// A folder under construction while deduplicating paths. Keys are names' UTF-8 bytes: Swift's
/// `String` equality would merge NFC and NFD spellings, which are two names on disk.
private final class DirectoryNode {
    enum Entry {
        case file
        case directory(DirectoryNode)
    }

    /// Names in use, whether by files or folders.
    var entries: [[UInt8]: Entry] = [:]
    /// The next suffix number to try per original file name, so that many duplicates stay linear.
    var nextNumber: [[UInt8]: Int] = [:]

    /// The folder `name` in this one, created if new. Only called before any file is claimed
    /// here (first pass) or for a folder that exists (second pass), so it never meets a file.
    func directory(named name: String) -> DirectoryNode {
        let key = Array(name.utf8)
        if case let .directory(node)? = entries[key] { return node }
        let node = DirectoryNode()
        entries[key] = .directory(node)
        return node
    }

    /// `original`, or its first free ` (n)` variant, marked as a file.
    func claimFileName(for original: String) -> String {
        let key = Array(original.utf8)
        var name = original
        if entries[key] != nil {
            var number = nextNumber[key, default: 2]
            while entries[Array(PathSanitizer.numbered(original, number).utf8)] != nil { number += 1 }
            nextNumber[key] = number + 1
            name = PathSanitizer.numbered(original, number)
        }
        entries[Array(name.utf8)] = .file
        return name
    }
}
