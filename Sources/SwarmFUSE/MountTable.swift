#if canImport(Glibc)
import Glibc
#endif

/// The kernel's mount table (/proc/self/mountinfo), for "is this path a mountpoint?".
public enum MountTable {
    /// One mount: where, what filesystem type, and its device "major:minor".
    public struct Mount: Sendable, Equatable {
        public let mountpoint: String
        public let type: String
        public let device: String
    }

    /// The mounts of our mount namespace.
    public static func mounts() -> [Mount] {
        guard let text = ProcessTools.readFile("/proc/self/mountinfo", limit: 16 << 20) else { return [] }
        return parse(text)
    }

    /// Parses mountinfo lines: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - TYPE SOURCE SUPER".
    public static func parse(_ text: String) -> [Mount] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 7, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else {
                return nil
            }
            return Mount(mountpoint: unescape(String(fields[4])), type: String(fields[dash + 1]),
                         device: String(fields[2]))
        }
    }

    /// The mount at exactly `path` (absolute, normalised), if any.
    public static func mount(at path: String) -> Mount? {
        mounts().last { $0.mountpoint == path }
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var bytes: [UInt8] = []
        let source = Array(text.utf8)
        var index = 0
        while index < source.count {
            if source[index] == UInt8(ascii: "\\"), index + 3 < source.count,
               let value = UInt8(String(decoding: source[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Absolute, lexically normalised paths, without touching the filesystem (a dead FUSE mount
/// answers every `stat` with ENOTCONN, so `realpath` cannot be used on it).
public enum PathTools {
    public static func absolute(_ path: String) -> String {
        var full = path
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let cwd = getcwd(&buffer, buffer.count) != nil
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                : "/"
            full = cwd + "/" + path
        }
        var components: [Substring] = []
        for component in full.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }
}
