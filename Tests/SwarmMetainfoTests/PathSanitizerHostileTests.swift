import SwarmMetainfo
import Testing

private func raw(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Byte-wise spelling: Swift's `==` on String treats NFC and NFD as equal, the filesystem does not.
private func bytes(_ path: [String]) -> [[UInt8]] { path.map { Array($0.utf8) } }

/// True for a component that must never reach the filesystem.
private func isForbidden(_ component: String) -> Bool {
    let spelling = Array(component.utf8)
    return spelling.isEmpty || spelling == raw(".") || spelling == raw("..") || spelling.contains(0)
        || spelling.contains(UInt8(ascii: "/")) || spelling.count > PathSanitizer.maxComponentBytes
}

@Suite("PathSanitizer against hostile names")
struct PathSanitizerHostileTests {
    static let accents = String(repeating: "\u{0301}", count: 127)

    /// Names whose trimming at a grapheme boundary leaves `.`, `..` or nothing.
    static let trimmedToDots: [String] = [
        "..." + accents, ".." + accents, "." + accents + accents,
        "." + String(repeating: "\u{0301}", count: 254), ".." + String(repeating: "\u{0301}", count: 200),
        String(repeating: "\u{0301}", count: 200), "...." + accents,
    ]

    @Test("trimming never yields an empty, `.` or `..` component", arguments: trimmedToDots)
    func trimmingKeepsComponentsSafe(name: String) {
        #expect(!isForbidden(PathSanitizer.name(raw(name))))
        #expect(!isForbidden(PathSanitizer.torrentName(raw(name))))
        if let component = PathSanitizer.component(raw(name)) { #expect(!isForbidden(component)) }
        for component in PathSanitizer.path([raw(name), raw(name)]) { #expect(!isForbidden(component)) }
        for path in PathSanitizer.uniquePaths([["t", PathSanitizer.name(raw(name))],
                                               ["t", PathSanitizer.name(raw(name))]]) {
            for component in path { #expect(!isForbidden(component)) }
        }
    }

    @Test("NFC and NFD spellings of one name are two names, both kept verbatim")
    func normalisationForms() {
        let nfc = "caf\u{E9}", nfd = "cafe\u{0301}"
        let unique = PathSanitizer.uniquePaths([["t", nfc], ["t", nfd]])
        #expect(bytes(unique[0]) == bytes(["t", nfc]))
        #expect(bytes(unique[1]) == bytes(["t", nfd]))
        // Folders of those names are two folders too.
        let folders = PathSanitizer.uniquePaths([["t", nfc, "x"], ["t", nfd, "x"]])
        #expect(bytes(folders[0]) == bytes(["t", nfc, "x"]))
        #expect(bytes(folders[1]) == bytes(["t", nfd, "x"]))
        #expect(bytes(PathSanitizer.path([raw(nfd)])) == [raw(nfd)])
    }

    @Test("a file beside a folder of the same name is renamed, the folder keeps its path (as libtorrent)")
    func folderKeepsItsName() {
        #expect(PathSanitizer.uniquePaths([["t", "a"], ["t", "a", "b"]]) == [["t", "a (2)"], ["t", "a", "b"]])
        #expect(PathSanitizer.uniquePaths([["t", "a", "b"], ["t", "a"]]) == [["t", "a", "b"], ["t", "a (2)"]])
        let deep = PathSanitizer.uniquePaths([["t", "a"], ["t", "a (2)"], ["t", "a", "x", "y"], ["t", "a", "x"]])
        #expect(deep[2] == ["t", "a", "x", "y"])
        #expect(deep[3][2] != "x" && deep[3].prefix(2) == ["t", "a"])
        #expect(Set(deep.map { $0.joined(separator: "/") }).count == 4)
        #expect(!deep.contains(["t", "a"]))
    }
}
