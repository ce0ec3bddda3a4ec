import Foundation
import SwarmContent
import Synchronization
import Testing
@testable import SwarmFS
import SwarmMetainfo

/// Collects completions, checking each read completes exactly once.
final class CompletionRecorder: Sendable {
    private let results = Mutex<[Result<ReadableSpan, ContentReadError>]>([])
    var all: [Result<ReadableSpan, ContentReadError>] { results.withLock { $0 } }
    var callback: @Sendable (Result<ReadableSpan, ContentReadError>) -> Void {
        { [self] result in results.withLock { $0.append(result) } }
    }

    /// Waits (up to 5 s) until `count` completions arrived: the first read of a piece is
    /// answered from another thread once the piece is hash-checked.
    @discardableResult
    func wait(for count: Int) -> [Result<ReadableSpan, ContentReadError>] {
        for _ in 0..<500 where all.count < count { usleep(10_000) }
        return all
    }
}

/// Reads `span` from its descriptor.
func bytes(of span: ReadableSpan) -> [UInt8] {
    span.copyBytes() ?? []
}

/// Expects the one read `recorder` saw to have failed as damaged for file 0 (a damaged cache).
func expectCacheError(_ recorder: CompletionRecorder, sourceLocation: SourceLocation = #_sourceLocation) {
    guard case let .failure(.storage(file, kind, _)) = recorder.wait(for: 1).first else {
        Issue.record("expected a storage error, got \(recorder.all)", sourceLocation: sourceLocation)
        return
    }
    #expect(file == 0 && kind == .damaged, sourceLocation: sourceLocation)
}

@Suite struct SwarmFileSystemTests {
    func makeTorrent() throws -> TestTorrent {
        try TestTorrent(name: "pack", files: [
            .init(path: ["a.bin"], length: 40_000),
            .init(path: [".pad", "0"], length: 9152, isPadding: true),
            .init(path: ["sub", "b.bin"], length: 5000),
            .init(path: ["empty.txt"], length: 0),
        ], pieceLength: 16384)
    }

    func makeFileSystem(_ torrent: TestTorrent, marker: String? = nil) -> (SwarmFileSystem, DirectoryContentSource) {
        let source = DirectoryContentSource(metainfo: torrent.metainfo, directory: torrent.directory,
                                            holdReadsWhileExists: marker)
        let fileSystem = SwarmFileSystem(source: source, uid: 42, gid: 43, mountTime: 1_600_000_000,
                                         statusExtras: [("mountpoint", "/mnt/x")])
        return (fileSystem, source)
    }

    func inode(_ fileSystem: SwarmFileSystem, _ path: [String]) throws -> UInt64 {
        var current = InodeTable.rootInode
        for name in path { current = try fileSystem.lookup(parent: current, name: name).inode }
        return current
    }

    @Test func treeMatchesTheDownloadDirectoryAndHidesPadding() throws {
        let torrent = try makeTorrent()
        defer { torrent.remove() }
        let (fileSystem, _) = makeFileSystem(torrent)
        let pack = try inode(fileSystem, ["pack"])
        let names = try fileSystem.table.children(of: pack).compactMap { fileSystem.table.node($0)?.name }
        #expect(names == ["a.bin", "sub", "empty.txt"])
        let attributes = try fileSystem.attributes(of: try inode(fileSystem, ["pack", "sub", "b.bin"]))
        #expect(attributes.size == 5000 && attributes.uid == 42 && attributes.gid == 43)
        #expect(attributes.time == 1_600_000_000)
        #expect(fileSystem.statistics().files == UInt64(fileSystem.table.count))
    }

    @Test func readsServeTheRightBytesAndClampAtTheEnd() throws {
        let torrent = try makeTorrent()
        defer { torrent.remove() }
        let (fileSystem, source) = makeFileSystem(torrent)
        let file = try inode(fileSystem, ["pack", "a.bin"])
        let (handle, keepCache) = try fileSystem.open(file, flags: O_RDONLY)
        #expect(keepCache)
        #expect(source.openReaderCount == 1)
        let expected = TestTorrent.content(of: ["pack", "a.bin"], length: 40_000)
        for (offset, size) in [(0, 4096), (16380, 10), (39_990, 4096), (40_000, 100), (50_000, 1), (0, 1 << 20)] {
            let recorder = CompletionRecorder()
            _ = try fileSystem.read(handle, offset: Int64(offset), size: size, completion: recorder.callback)
            #expect(recorder.wait(for: 1).count == 1)
            let span = try #require(try recorder.all.first?.get())
            let wanted = Array(expected[min(offset, 40_000)..<min(40_000, offset + size)])
            #expect(span.length == wanted.count)
            if span.length > 0 { #expect(bytes(of: span) == wanted) }
        }
        fileSystem.release(handle)
        #expect(source.openReaderCount == 0)
        #expect(throws: FSError.badHandle(handle)) {
            try fileSystem.read(handle, offset: 0, size: 1) { _ in }
        }
    }

    @Test func writesAndDirectoriesAreRefused() throws {
        let torrent = try makeTorrent()
        defer { torrent.remove() }
        let (fileSystem, _) = makeFileSystem(torrent)
        let file = try inode(fileSystem, ["pack", "a.bin"])
        for flags in [O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_RDONLY | O_APPEND, O_RDONLY | O_CREAT] {
            #expect(throws: FSError.readOnly(operation: "open for writing")) { try fileSystem.open(file, flags: flags) }
        }
        let directory = try inode(fileSystem, ["pack"])
        #expect(throws: FSError.isDirectory(inode: directory)) { try fileSystem.open(directory, flags: O_RDONLY) }
        #expect(throws: FSError.readOnly(operation: "access for writing")) { try fileSystem.checkAccess(file, mask: W_OK) }
        try fileSystem.checkAccess(file, mask: R_OK)
    }

    @Test func heldReadsWaitAndCompleteExactlyOnce() throws {
        let torrent = try makeTorrent()
        defer { torrent.remove() }
        let (fileSystem, source) = makeFileSystem(torrent)
        let (handle, _) = try fileSystem.open(try inode(fileSystem, ["pack", "sub", "b.bin"]), flags: O_RDONLY)
        source.hold()
        let released = CompletionRecorder()
        let cancelled = CompletionRecorder()
        _ = try fileSystem.read(handle, offset: 100, size: 200, completion: released.callback)
        let ticket = try fileSystem.read(handle, offset: 0, size: 10, completion: cancelled.callback)
        #expect(released.all.isEmpty && cancelled.all.isEmpty)
        #expect(source.heldReadCount == 2)
        ticket.cancel()
        ticket.cancel()
        #expect(cancelled.all.count == 1)
        #expect(throws: ContentReadError.cancelled) { try cancelled.all[0].get() }
        source.release()
        ticket.cancel()
        #expect(cancelled.all.count == 1)
        #expect(released.wait(for: 1).count == 1)
        let span = try released.all[0].get()
        #expect(bytes(of: span) == Array(TestTorrent.content(of: ["pack", "sub", "b.bin"], length: 5000)[100..<300]))
    }

    @Test func shutdownFailsWaitingReads() throws {
        let torrent = try makeTorrent()
        defer { torrent.remove() }
        let (fileSystem, source) = makeFileSystem(torrent)
        let (handle, _) = try fileSystem.open(try inode(fileSystem, ["pack", "a.bin"]), flags: O_RDONLY)
        source.hold()
        let recorder = CompletionRecorder()
        _ = try fileSystem.read(handle, offset: 0, size: 10, completion: recorder.callback)
        source.shutdown()
        #expect(recorder.all.count == 1)
        #expect(throws: ContentReadError.shutdown) { try recorder.all[0].get() }
        let late = CompletionRecorder()
        _ = try fileSystem.read(handle, offset: 0, size: 10, completion: late.callback)
        #expect(throws: ContentReadError.shutdown) { try late.all[0].get() }
    }

    @Test func markerFileHoldsReadsUntilRemoved() async throws {
        let torrent = try makeTorrent()
        defer { torrent.remove() }
        let marker = torrent.directory + "/hold"
        #expect(FileManager.default.createFile(atPath: marker, contents: nil))
        let (fileSystem, _) = makeFileSystem(torrent, marker: marker)
        let (handle, _) = try fileSystem.open(try inode(fileSystem, ["pack", "a.bin"]), flags: O_RDONLY)
        let recorder = CompletionRecorder()
        _ = try fileSystem.read(handle, offset: 0, size: 10, completion: recorder.callback)
        try await Task.sleep(for: .milliseconds(100))
        #expect(recorder.all.isEmpty)
        try FileManager.default.removeItem(atPath: marker)
        for _ in 0..<100 where recorder.all.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(recorder.all.count == 1)
        #expect(try recorder.all.first?.get().length == 10)
    }

    @Test func truncatedCacheFileIsAnErrorNotWrongBytes() throws {
        let torrent = try makeTorrent()
        defer { torrent.remove() }
        let path = torrent.directory + "/pack/a.bin"
        let handleOnDisk = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handleOnDisk.truncate(atOffset: 1000)
        try handleOnDisk.close()
        let (fileSystem, _) = makeFileSystem(torrent)
        let (handle, _) = try fileSystem.open(try inode(fileSystem, ["pack", "a.bin"]), flags: O_RDONLY)
        let recorder = CompletionRecorder()
        _ = try fileSystem.read(handle, offset: 900, size: 200, completion: recorder.callback)
        expectCacheError(recorder)
    }

    @Test func aDamagedPieceFailsItsReadsAndOnlyThose() throws {
        let torrent = try makeTorrent()
        defer { torrent.remove() }
        // Flip one byte of a.bin's second piece behind swarmfs's back.
        let path = torrent.directory + "/pack/a.bin"
        let fd = open(path, O_RDWR)
        #expect(fd >= 0)
        var byte: UInt8 = 0
        #expect(pread(fd, &byte, 1, 20_000) == 1)
        byte ^= 0xFF
        #expect(pwrite(fd, &byte, 1, 20_000) == 1)
        close(fd)
        let (fileSystem, _) = makeFileSystem(torrent)
        let (handle, _) = try fileSystem.open(try inode(fileSystem, ["pack", "a.bin"]), flags: O_RDONLY)
        for _ in 0..<2 {  // the second time from what the first check found
            let damaged = CompletionRecorder()
            _ = try fileSystem.read(handle, offset: 16_384, size: 10, completion: damaged.callback)
            expectCacheError(damaged)
        }
        let intact = CompletionRecorder()
        _ = try fileSystem.read(handle, offset: 0, size: 16_384, completion: intact.callback)
        let span = try #require(try intact.wait(for: 1).first?.get())
        #expect(bytes(of: span) == Array(TestTorrent.content(of: ["pack", "a.bin"], length: 40_000)[0..<16_384]))
        let status = fileSystem.source.statusSnapshot()
        #expect(status.verifiedBytes == 16_384)
    }

    @Test func extendedAttributesDescribeFilesAndTheTorrent() throws {
        let torrent = try makeTorrent()
        defer { torrent.remove() }
        let (fileSystem, _) = makeFileSystem(torrent)
        let b = try inode(fileSystem, ["pack", "sub", "b.bin"])
        #expect(try fileSystem.attributeNames(of: b) == ["user.swarmfs.progress", "user.swarmfs.pieces"])
        // Verified means hash-checked: nothing is until it is read.
        #expect(String(decoding: try fileSystem.attribute("user.swarmfs.progress", of: b), as: UTF8.self) == "0.0")
        for (path, length) in [(["pack", "a.bin"], 40_000), (["pack", "sub", "b.bin"], 5000)] {
            let (handle, _) = try fileSystem.open(try inode(fileSystem, path), flags: O_RDONLY)
            let recorder = CompletionRecorder()
            _ = try fileSystem.read(handle, offset: 0, size: length, completion: recorder.callback)
            #expect(try recorder.wait(for: 1).first?.get().length == length)
            fileSystem.release(handle)
        }
        #expect(String(decoding: try fileSystem.attribute("user.swarmfs.progress", of: b), as: UTF8.self) == "100.0")
        // a.bin is 40,000 bytes + 9,152 padding: b.bin starts at 49,152 = piece 3.
        #expect(String(decoding: try fileSystem.attribute("user.swarmfs.pieces", of: b), as: UTF8.self) == "3-3")
        let a = try inode(fileSystem, ["pack", "a.bin"])
        #expect(String(decoding: try fileSystem.attribute("user.swarmfs.pieces", of: a), as: UTF8.self) == "0-2")
        let empty = try inode(fileSystem, ["pack", "empty.txt"])
        #expect(String(decoding: try fileSystem.attribute("user.swarmfs.pieces", of: empty), as: UTF8.self) == "none")
        #expect(throws: FSError.noAttribute(inode: b, name: "user.other")) { try fileSystem.attribute("user.other", of: b) }
        let pack = try inode(fileSystem, ["pack"])
        #expect(try fileSystem.attributeNames(of: pack).isEmpty)

        let json = try fileSystem.attribute("user.swarmfs.status", of: InodeTable.rootInode)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        #expect(document["infoHash"] as? String == torrent.metainfo.infoHash.hex)
        #expect((document["totalLength"] as? NSNumber)?.int64Value == 54_152)
        #expect((document["verifiedBytes"] as? NSNumber)?.int64Value == 45_000)
        #expect(document["mountpoint"] as? String == "/mnt/x")
        for key in ["downloadedBytes", "uploadedBytes", "downloadRate", "uploadRate", "peers", "cacheDiskBytes"] {
            #expect(document[key] is NSNumber, "missing \(key)")
        }
        let files = try #require(document["files"] as? [[String: Any]])
        #expect(files.map { $0["path"] as? String } == ["pack/a.bin", "pack/sub/b.bin", "pack/empty.txt"])
    }

    @Test func percentagesNeverRoundUpToComplete() {
        #expect(SwarmFileSystem.percentage(0, of: 100) == "0.0")
        #expect(SwarmFileSystem.percentage(999_999, of: 1_000_000) == "99.9")
        #expect(SwarmFileSystem.percentage(425, of: 1000) == "42.5")
        #expect(SwarmFileSystem.percentage(0, of: 0) == "100.0")
    }

    @Test func statusJSONEscapesHostileNames() throws {
        let text = JSONText.quote("a\"b\\c\nd\u{01}é")
        #expect(text == "\"a\\\"b\\\\c\\nd\\u0001é\"")
        let parsed = try JSONSerialization.jsonObject(with: Data("[\(text)]".utf8)) as? [String]
        #expect(parsed == ["a\"b\\c\nd\u{01}é"])
        #expect(StatusJSON.number(.nan) == "0" && StatusJSON.number(12.0) == "12" && StatusJSON.number(1.5) == "1.5")
    }

    @Test func statusOfATwentyThousandFileTorrentFitsAnExtendedAttribute() throws {
        let files = (0..<20_000).map { FileStatus(path: "dir\($0 / 100)/file-\($0).dat", length: 4096, verifiedBytes: 0) }
        let status = SessionStatus(infoHash: String(repeating: "a", count: 40), name: "many", totalLength: 20_000 * 4096,
                                   verifiedBytes: 0, verifiedPieces: 0, pieceCount: 313, downloadedBytes: 0,
                                   uploadedBytes: 0, downloadRate: 0, uploadRate: 0, peers: 0, cacheDiskBytes: 0,
                                   pendingReads: 0, piecesWaitingForReaders: 0, files: files)
        let text = StatusJSON.encode(status, maxBytes: StatusJSON.attributeLimit)
        #expect(text.utf8.count <= StatusJSON.attributeLimit)
        let document = try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let listed = try #require(document["files"] as? [[String: Any]])
        let omitted = try #require(document["filesOmitted"] as? Int)
        #expect(listed.count > 100 && listed.count + omitted == 20_000)
        #expect(listed.first?["path"] as? String == "dir0/file-0.dat")
        // Without a limit, or when everything fits, nothing is omitted.
        let whole = try #require(JSONSerialization.jsonObject(with: Data(StatusJSON.encode(status).utf8)) as? [String: Any])
        #expect((whole["files"] as? [Any])?.count == 20_000 && whole["filesOmitted"] == nil)
    }
}
