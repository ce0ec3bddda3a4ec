import SwarmMetainfo
import Testing

private func raw(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("PathSanitizer")
struct PathSanitizerTests {
    @Test("dangerous components are dropped or neutralised")
    func hostileComponents() {
        #expect(PathSanitizer.path([raw(".."), raw(".."), raw("etc"), raw("passwd")]) == ["etc", "passwd"])
        #expect(PathSanitizer.path([raw("/etc"), raw("a/b")]) == ["_etc", "a_b"])
        #expect(PathSanitizer.path([raw(""), raw("."), raw("x")]) == ["x"])
        #expect(PathSanitizer.path([raw(".."), raw(".")]) == ["_"])
        #expect(PathSanitizer.path([]) == ["_"])
        #expect(PathSanitizer.path([[0x61, 0x00, 0x62]]) == ["a_b"])
        #expect(PathSanitizer.name(raw("..")) == "_")
        #expect(PathSanitizer.name(raw("")) == "_")
        #expect(PathSanitizer.name(raw("...")) == "...")
    }

    @Test("a torrent cannot take the name of swarmfs's state folder")
    func reservedName() {
        #expect(PathSanitizer.torrentName(raw(".swarmfs")) == "_.swarmfs")
        #expect(PathSanitizer.torrentName(raw("..")) == "_")
        #expect(PathSanitizer.torrentName(raw("swarmfs")) == "swarmfs")
    }

    @Test("non-UTF-8 names are decoded lossily")
    func lossy() {
        #expect(PathSanitizer.name([0x63, 0x61, 0x66, 0xe9]) == "caf\u{FFFD}")
    }

    @Test("over-long names are trimmed to 255 bytes at a character boundary")
    func longNames() {
        let ascii = PathSanitizer.name(Array(repeating: UInt8(ascii: "a"), count: 300))
        #expect(ascii.utf8.count == 255)
        let accented = PathSanitizer.name(raw(String(repeating: "\u{E9}", count: 300)))
        #expect(accented == String(repeating: "\u{E9}", count: 127))
        // One grapheme longer than the limit: fall back to a scalar boundary.
        let zalgo = "a" + String(repeating: "\u{0301}", count: 200)
        let trimmed = PathSanitizer.name(raw(zalgo))
        #expect(trimmed.utf8.count <= 255 && !trimmed.isEmpty)
        #expect(String(validating: Array(trimmed.utf8), as: UTF8.self) != nil)
    }

    @Test("duplicates and file/folder collisions are renamed deterministically")
    func uniqueness() {
        let paths = [["t", "dup"], ["t", "dup"], ["t", "dup"], ["t", "c"], ["t", "c", "d"],
                     ["t", "c", "e"], ["t", "x", "y"], ["t", "x"], ["t", "m.mkv"], ["t", "m.mkv"],
                     ["t", "dup (2)"]]
        let unique = PathSanitizer.uniquePaths(paths)
        #expect(unique == [["t", "dup"], ["t", "dup (2)"], ["t", "dup (3)"], ["t", "c (2)"], ["t", "c", "d"],
                           ["t", "c", "e"], ["t", "x", "y"], ["t", "x (2)"], ["t", "m.mkv"],
                           ["t", "m (2).mkv"], ["t", "dup (2) (2)"]])
        #expect(PathSanitizer.uniquePaths(paths) == unique)
        #expect(Set(unique.map { $0.joined(separator: "/") }).count == unique.count)
    }

    @Test("renaming stays within 255 bytes and linear with many duplicates")
    func manyDuplicates() {
        let long = String(repeating: "b", count: 255)
        let unique = PathSanitizer.uniquePaths(Array(repeating: ["t", long], count: 3))
        #expect(unique[2][1].utf8.count <= 255)
        #expect(unique[2][1].hasSuffix(" (3)"))
        let many = PathSanitizer.uniquePaths(Array(repeating: ["t", "same"], count: 20_000))
        #expect(Set(many.map { $0[1] }).count == 20_000)
    }
}
