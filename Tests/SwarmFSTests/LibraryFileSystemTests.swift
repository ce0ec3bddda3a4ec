import Foundation
import Synchronization
import Testing
@testable import SwarmFS
import SwarmMetainfo
import SwarmContent

/// Records what the library tells the kernel.
final class RecordingNotifier: FSChangeNotifier {
    private let calls = Mutex<[String]>([])
    var all: [String] { calls.withLock { $0 } }
    func entryChanged(parent: UInt64, name: String) { calls.withLock { $0.append("entry \(parent)/\(name)") } }
    func inodeChanged(_ inode: UInt64) { calls.withLock { $0.append("inode \(inode)") } }
    func reset() { calls.withLock { $0.removeAll() } }
}

@Suite struct LibraryFileSystemTests {
    let root = InodeTable.rootInode

    func makeTorrents() throws -> (multi: TestTorrent, single: TestTorrent) {
        let multi = try TestTorrent(name: "pack", files: [
            .init(path: ["a.bin"], length: 40_000),
            .init(path: ["sub", "b.bin"], length: 5000),
        ])
        let single = try TestTorrent(name: "clip.bin", files: [.init(path: ["clip.bin"], length: 20_000)], single: true)
        return (multi, single)
    }

    func folder(_ name: String, _ torrent: TestTorrent) -> (LibraryFolder, DirectoryContentSource) {
        let source = DirectoryContentSource(metainfo: torrent.metainfo, directory: torrent.directory,
                                            holdReadsWhileExists: torrent.directory + "/hold")
        return (LibraryFolder(name: name, infoHash: torrent.metainfo.infoHash.hex,
                              content: .torrent(torrent.metainfo, source)), source)
    }

    func makeLibrary() -> (LibraryFileSystem, RecordingNotifier) {
        let library = LibraryFileSystem(ownership: FSOwnership(uid: 1, gid: 2, time: 1_600_000_000),
                                        statusExtras: [("library", "/lib")])
        let notifier = RecordingNotifier()
        library.setNotifier(notifier)
        return (library, notifier)
    }

    func listing(_ library: LibraryFileSystem, _ directory: UInt64) throws -> [String] {
        var names: [String] = []
        var offset: Int64 = 0
        while let entry = try library.directoryEntry(of: directory, at: offset) {
            names.append(entry.name)
            offset = entry.nextOffset
        }
        return names
    }

    @Test func eachTorrentIsAFolderHoldingItsFiles() throws {
        let (multi, single) = try makeTorrents()
        defer { multi.remove(); single.remove() }
        let (library, notifier) = makeLibrary()
        let folders = library.update(adding: [folder("pack", multi).0, folder("clip.bin", single).0])
        #expect(try listing(library, root) == [".", "..", "pack", "clip.bin"])
        #expect(notifier.all.contains("entry 1/pack") && notifier.all.contains("inode 1"))
        // A multi-file torrent's files sit below its folder without its name again; a
        // single-file torrent's one file sits in its folder.
        let pack = try library.lookup(parent: root, name: "pack")
        #expect(pack.inode == folders[0] && pack.isDirectory)
        #expect(try listing(library, pack.inode) == [".", "..", "a.bin", "sub"])
        #expect(try library.lookup(parent: pack.inode, name: "..").inode == root)
        let sub = try library.lookup(parent: pack.inode, name: "sub")
        #expect(try library.lookup(parent: sub.inode, name: "b.bin").size == 5000)
        #expect(try library.lookup(parent: sub.inode, name: "..").inode == pack.inode)
        let clip = try library.lookup(parent: folders[1], name: "clip.bin")
        #expect(clip.size == 20_000 && !clip.isDirectory)
        #expect(try library.attributes(of: root).linkCount == 4)
        #expect(library.entriesMayChange(in: root) && !library.entriesMayChange(in: pack.inode))
        // Every inode is distinct across the folders.
        let inodes = [pack.inode, sub.inode, folders[1], clip.inode,
                      try library.lookup(parent: pack.inode, name: "a.bin").inode]
        #expect(Set(inodes).count == inodes.count)
    }

    @Test func inodesAreNeverReusedAfterARemoval() throws {
        let (multi, _) = try makeTorrents()
        defer { multi.remove() }
        let (library, _) = makeLibrary()
        let first = library.update(adding: [folder("pack", multi).0])[0]
        let oldFile = try library.lookup(parent: first, name: "a.bin").inode
        library.update(removing: [first])
        #expect(throws: FSError.self) { try library.attributes(of: oldFile) }
        #expect(throws: FSError.self) { try library.lookup(parent: root, name: "pack") }
        let second = library.update(adding: [folder("pack", multi).0])[0]
        let newFile = try library.lookup(parent: second, name: "a.bin").inode
        #expect(second > oldFile && newFile != oldFile)
        #expect(throws: FSError.self) { try library.attributes(of: oldFile) }
    }

    @Test func aListingGoingOnWhileFoldersChangeSeesEachUnchangedOneOnce() throws {
        let (multi, single) = try makeTorrents()
        defer { multi.remove(); single.remove() }
        let (library, _) = makeLibrary()
        let folders = library.update(adding: [folder("one", multi).0, folder("two", single).0,
                                              folder("three", single).0])
        let first = try #require(try library.directoryEntry(of: root, at: 2))
        #expect(first.name == "one")
        library.update(removing: [folders[0]], adding: [folder("four", multi).0])
        var names = [first.name]
        var offset = first.nextOffset
        while let entry = try library.directoryEntry(of: root, at: offset) {
            names.append(entry.name)
            offset = entry.nextOffset
        }
        #expect(names == ["one", "two", "three", "four"])
    }

    @Test func renamesInOneBatchMaySwapNames() throws {
        let (multi, single) = try makeTorrents()
        defer { multi.remove(); single.remove() }
        let (library, notifier) = makeLibrary()
        let folders = library.update(adding: [folder("x", multi).0, folder("x (2)", single).0])
        notifier.reset()
        library.update(renaming: [(folders[0], "x (2)"), (folders[1], "x")])
        #expect(try library.lookup(parent: root, name: "x").inode == folders[1])
        #expect(try library.lookup(parent: root, name: "x (2)").inode == folders[0])
        #expect(Set(notifier.all) == ["entry 1/x", "entry 1/x (2)", "inode 1"])
    }

    @Test func aRemovedFolderFailsItsWaitingAndLaterReads() throws {
        let (multi, _) = try makeTorrents()
        defer { multi.remove() }
        let (library, _) = makeLibrary()
        let (pack, source) = folder("pack", multi)
        let inode = library.update(adding: [pack])[0]
        let file = try library.lookup(parent: inode, name: "a.bin").inode
        let (handle, _) = try library.open(file, flags: O_RDONLY)
        #expect(FileManager.default.createFile(atPath: multi.directory + "/hold", contents: nil))
        let waiting = CompletionRecorder()
        _ = try library.read(handle, offset: 0, size: 4096, completion: waiting.callback)
        #expect(waiting.all.isEmpty)

        library.update(removing: [inode])
        source.shutdown()  // what the library's keeper does next
        guard case .failure(.shutdown)? = waiting.wait(for: 1).first else {
            Issue.record("the waiting read got \(waiting.all)")
            return
        }
        let later = CompletionRecorder()
        _ = try library.read(handle, offset: 0, size: 4096, completion: later.callback)
        guard case .failure(.shutdown)? = later.all.first else {
            Issue.record("a read after the removal got \(later.all)")
            return
        }
        #expect(throws: FSError.self) { try library.open(file, flags: O_RDONLY) }
        library.release(handle)
        #expect(library.openHandleCount == 0)
    }

    @Test func rootStatusListsFoldersStartingTorrentsAndProblemsWithinTheLimit() throws {
        let (multi, _) = try makeTorrents()
        defer { multi.remove() }
        let (library, _) = makeLibrary()
        library.update(adding: [folder("pack", multi).0,
                                LibraryFolder(name: "Show", infoHash: String(repeating: "ab", count: 20),
                                              content: .placeholder(name: "Show", state: "magnet", reason: "no metadata"))])
        library.setNotes(pending: [LibraryPendingTorrent(folder: "soon", infoHash: "cd", state: "starting")],
                         problems: [LibraryFileProblem(file: "bad.torrent", reason: "malformed")])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(library.attribute(FSAttributeName.status, of: root))) as? [String: Any])
        #expect(json["torrentCount"] as? Int == 3 && json["library"] as? String == "/lib")
        let states = (json["torrents"] as? [[String: Any]] ?? []).map { "\($0["folder"] ?? "")=\($0["state"] ?? "")" }
        #expect(states == ["pack=running", "Show=magnet", "soon=starting"])
        #expect((json["problems"] as? [[String: Any]])?.first?["file"] as? String == "bad.torrent")
        // A folder answers its own status; a file its progress.
        let folderStatus = try library.attribute(FSAttributeName.status, of: library.lookup(parent: root, name: "pack").inode)
        #expect(String(decoding: folderStatus, as: UTF8.self).contains("\"folder\":\"pack\""))

        let many = (0..<2000).map { LibraryPendingTorrent(folder: "torrent number \($0)", infoHash: String(repeating: "ef", count: 20), state: "starting") }
        library.setNotes(pending: many, problems: [])
        let cut = library.statusJSON()
        #expect(cut.utf8.count <= StatusJSON.attributeLimit)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(cut.utf8)) as? [String: Any])
        let shown = (parsed["torrents"] as? [Any])?.count ?? 0
        #expect(shown + (parsed["torrentsOmitted"] as? Int ?? 0) == 2002)
    }
}
