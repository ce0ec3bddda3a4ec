import Foundation
import Testing
@testable import SwarmFS

@Suite struct InodeTableTests {
    let ownership = FSOwnership(uid: 1234, gid: 5678, time: 1_700_000_000)

    @Test func singleFileTorrentShowsTheFileAtTheRoot() throws {
        let table = InodeTable(files: [FSFileEntry(path: ["movie.mkv"], length: 1000, fileIndex: 0)])
        #expect(try table.children(of: InodeTable.rootInode).count == 1)
        let node = try table.lookup(parent: InodeTable.rootInode, name: "movie.mkv")
        #expect(node.fileIndex == 0)
        #expect(node.length == 1000)
        #expect(node.parent == InodeTable.rootInode)
    }

    @Test func multiFileTorrentBuildsNestedDirectories() throws {
        let table = InodeTable(files: [
            FSFileEntry(path: ["show", "s1", "e1.mkv"], length: 10, fileIndex: 0),
            FSFileEntry(path: ["show", "s1", "e2.mkv"], length: 20, fileIndex: 1),
            FSFileEntry(path: ["show", "extras", "a.srt"], length: 30, fileIndex: 2),
            FSFileEntry(path: ["show", "readme.txt"], length: 40, fileIndex: 3),
        ])
        let show = try table.lookup(parent: InodeTable.rootInode, name: "show")
        #expect(show.isDirectory)
        let season = try table.lookup(parent: show.inode, name: "s1")
        let episode = try table.lookup(parent: season.inode, name: "e2.mkv")
        #expect(episode.fileIndex == 1 && episode.length == 20)
        #expect(table.path(of: episode.inode) == "show/s1/e2.mkv")
        #expect(try table.lookup(parent: season.inode, name: "..").inode == show.inode)
        #expect(try table.lookup(parent: season.inode, name: ".").inode == season.inode)
        #expect(try table.children(of: show.inode).map { table.node($0)?.name } == ["s1", "extras", "readme.txt"])
        // Root's ".." is the root itself.
        #expect(try table.lookup(parent: InodeTable.rootInode, name: "..").inode == InodeTable.rootInode)
    }

    @Test func inodeNumbersAreStableAcrossBuilds() throws {
        let files = (0..<50).map { FSFileEntry(path: ["t", "d\($0 % 5)", "f\($0)"], length: Int64($0), fileIndex: $0) }
        let first = InodeTable(files: files)
        let second = InodeTable(files: files)
        #expect(first.count == second.count)
        for inode in 1...UInt64(first.count) {
            #expect(first.node(inode) == second.node(inode))
        }
    }

    @Test func lookupErrorsCarryTheirErrno() throws {
        let table = InodeTable(files: [FSFileEntry(path: ["a", "b"], length: 1, fileIndex: 0)])
        let a = try table.lookup(parent: InodeTable.rootInode, name: "a")
        let b = try table.lookup(parent: a.inode, name: "b")
        #expect(throws: FSError.notFound(inode: a.inode, name: "c")) { try table.lookup(parent: a.inode, name: "c") }
        #expect(throws: FSError.notDirectory(inode: b.inode)) { try table.lookup(parent: b.inode, name: "x") }
        #expect(throws: FSError.notFound(inode: 999, name: nil)) { try table.lookup(parent: 999, name: "x") }
        #expect(table.node(0) == nil)
        #expect(table.node(UInt64.max) == nil)
    }

    @Test func listingHasDotEntriesThenChildrenAndResumesAtAnyOffset() throws {
        let table = InodeTable(files: (0..<10).map { FSFileEntry(path: ["d", "f\($0)"], length: 1, fileIndex: $0) })
        let directory = try table.lookup(parent: InodeTable.rootInode, name: "d").inode
        var names: [String] = []
        var offset: Int64 = 0
        while let entry = try table.entry(of: directory, at: offset) {
            names.append(entry.name)
            #expect(entry.nextOffset == offset + 1)
            offset = entry.nextOffset
        }
        #expect(names == [".", ".."] + (0..<10).map { "f\($0)" })
        #expect(try table.entry(of: directory, at: 7)?.name == "f5")
        #expect(try table.entry(of: directory, at: 12) == nil)
        #expect(try table.entry(of: directory, at: -1) == nil)
        #expect(try table.entryCount(of: directory) == 12)
        let file = try table.lookup(parent: directory, name: "f0").inode
        #expect(throws: FSError.notDirectory(inode: file)) { try table.entry(of: file, at: 0) }
    }

    @Test func attributesFollowTheTorrent() throws {
        let table = InodeTable(files: [
            FSFileEntry(path: ["t", "sub", "x"], length: 1025, fileIndex: 0),
            FSFileEntry(path: ["t", "y"], length: 0, fileIndex: 1),
        ])
        let t = try table.lookup(parent: InodeTable.rootInode, name: "t")
        let x = try table.lookup(parent: try table.lookup(parent: t.inode, name: "sub").inode, name: "x")
        let file = try table.attributes(of: x.inode, ownership: ownership)
        #expect(file.mode == 0o100444)
        #expect(file.size == 1025 && file.blocks == 3)
        #expect(file.uid == 1234 && file.gid == 5678 && file.time == 1_700_000_000)
        #expect(file.linkCount == 1)
        let directory = try table.attributes(of: t.inode, ownership: ownership)
        #expect(directory.mode == 0o040555 && directory.isDirectory)
        #expect(directory.linkCount == 3) // ".", its entry in the root, and "sub/.."
        let empty = try table.attributes(of: try table.lookup(parent: t.inode, name: "y").inode, ownership: ownership)
        #expect(empty.size == 0 && empty.blocks == 0)
    }

    @Test func hostileAndDuplicateNamesStayInsideAndReachable() throws {
        let table = InodeTable(files: [
            FSFileEntry(path: ["t", "..", "x"], length: 1, fileIndex: 0),
            FSFileEntry(path: ["t", "a/b"], length: 2, fileIndex: 1),
            FSFileEntry(path: ["t", "dup"], length: 3, fileIndex: 2),
            FSFileEntry(path: ["t", "dup"], length: 4, fileIndex: 3),
            FSFileEntry(path: ["t", "dup", "inner"], length: 5, fileIndex: 4),
            FSFileEntry(path: ["t", ""], length: 6, fileIndex: 5),
            FSFileEntry(path: [], length: 7, fileIndex: 6),
        ])
        let t = try table.lookup(parent: InodeTable.rootInode, name: "t").inode
        var reached: [Int] = []
        func walk(_ directory: UInt64) throws {
            for child in try table.children(of: directory) {
                let node = try #require(table.node(child))
                #expect(!node.name.isEmpty && node.name != "." && node.name != ".." && !node.name.contains("/"))
                #expect(try table.lookup(parent: directory, name: node.name).inode == child)
                if let index = node.fileIndex { reached.append(index) } else { try walk(child) }
            }
        }
        try walk(InodeTable.rootInode)
        #expect(reached.sorted() == Array(0...6))
        #expect(try table.lookup(parent: t, name: "dup").fileIndex == 2)
        #expect(try table.lookup(parent: t, name: "dup~2").fileIndex == 3)
        #expect(try table.lookup(parent: t, name: "dup~3").isDirectory)
    }

    @Test func twentyThousandFilesBuildAndListFast() throws {
        let files = (0..<20_000).map {
            FSFileEntry(path: ["big", "dir\($0 / 1000)", "sub\($0 % 7)", "file-\($0).bin"], length: Int64($0), fileIndex: $0)
        }
        let clock = ContinuousClock()
        var table: InodeTable?
        let build = clock.measure { table = InodeTable(files: files) }
        let built = try #require(table)
        #expect(build < .seconds(2), "building took \(build)") // debug build on a loaded 2-core VM
        let walk = try clock.measure {
            var seen = 0
            var stack = [InodeTable.rootInode]
            while let directory = stack.popLast() {
                var offset: Int64 = 2
                while let entry = try built.entry(of: directory, at: offset) {
                    _ = try built.lookup(parent: directory, name: entry.name)
                    if entry.isDirectory { stack.append(entry.inode) } else { seen += 1 }
                    offset = entry.nextOffset
                }
            }
            #expect(seen == 20_000)
        }
        #expect(walk < .seconds(2), "walking took \(walk)")
        let last = try built.lookup(parent: try built.lookup(parent: try built.lookup(parent: try built.lookup(
            parent: InodeTable.rootInode, name: "big").inode, name: "dir19").inode, name: "sub6").inode,
            name: "file-19998.bin")
        #expect(last.fileIndex == 19998)
    }

    /// Linux keeps NFC and NFD spellings as two names; so do the torrent and the cache.
    @Test func nfcAndNfdSpellingsAreTwoEntries() throws {
        let nfc = "caf\u{E9}", nfd = "cafe\u{0301}"
        let table = InodeTable(files: [FSFileEntry(path: ["t", nfc], length: 1, fileIndex: 0),
                                       FSFileEntry(path: ["t", nfd], length: 2, fileIndex: 1)])
        let folder = try table.lookup(parent: InodeTable.rootInode, name: "t")
        let names = try table.children(of: folder.inode).compactMap { table.node($0)?.name }
        #expect(names.map { Array($0.utf8) } == [Array(nfc.utf8), Array(nfd.utf8)])
        #expect(try table.lookup(parent: folder.inode, name: nfc).fileIndex == 0)
        #expect(try table.lookup(parent: folder.inode, name: nfd).fileIndex == 1)
    }
}
