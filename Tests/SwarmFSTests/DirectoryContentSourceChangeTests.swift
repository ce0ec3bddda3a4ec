import Foundation
import Glibc
@testable import SwarmContent
import Testing
@testable import SwarmFS
import SwarmMetainfo

/// `--download none` over a folder other programs may edit: what is served is what was checked.
@Suite struct DirectoryContentSourceChangeTests {
    func makeTorrent(files: Int = 1) throws -> TestTorrent {
        try TestTorrent(name: "pack", files: (0..<files).map { .init(path: ["f\($0).bin"], length: 40_000) },
                        pieceLength: 16384)
    }

    func read(_ source: DirectoryContentSource, _ reader: ReaderID, file: Int = 0, offset: Int64,
              length: Int) -> Result<[UInt8], ContentReadError> {
        let recorder = CompletionRecorder()
        _ = source.read(reader, fileIndex: file, offset: offset, length: length, completion: recorder.callback)
        guard let result = recorder.wait(for: 1).first else { return .failure(.shutdown) }
        return result.map { bytes(of: $0) }
    }

    func path(_ torrent: TestTorrent, _ name: String = "f0.bin") -> String {
        torrent.directory + "/pack/" + name
    }

    @Test func bytesChangedInPlaceAfterTheirCheckAreNeverServed() throws {
        let torrent = try makeTorrent()
        defer { torrent.remove() }
        let source = DirectoryContentSource(metainfo: torrent.metainfo, directory: torrent.directory)
        let expected = TestTorrent.content(of: ["pack", "f0.bin"], length: 40_000)
        let reader = source.openReader(fileIndex: 0)
        #expect(try read(source, reader, offset: 0, length: 4096).get() == Array(expected[0..<4096]))
        // Another program edits the checked piece while the reader stays open.
        let handle = try #require(FileHandle(forUpdatingAtPath: path(torrent)))
        try handle.seek(toOffset: 100)
        try handle.write(contentsOf: Data("EDITED".utf8))
        try handle.close()
        guard case let .failure(.storage(_, kind, _)) = read(source, reader, offset: 0, length: 4096) else {
            Issue.record("an edited piece was served")
            return
        }
        #expect(kind == .damaged)
        // A piece of the file the edit did not touch checks again and is served.
        #expect(try read(source, reader, offset: 32768, length: 100).get() == Array(expected[32768..<32868]))
        source.closeReader(reader)
        source.shutdown()
    }

    @Test func aReplacedFileIsCheckedAgainWhenNextOpened() throws {
        let torrent = try makeTorrent()
        defer { torrent.remove() }
        let source = DirectoryContentSource(metainfo: torrent.metainfo, directory: torrent.directory)
        var content = TestTorrent.content(of: ["pack", "f0.bin"], length: 40_000)
        let first = source.openReader(fileIndex: 0)
        #expect(try read(source, first, offset: 0, length: 100).get() == Array(content[0..<100]))
        source.closeReader(first)
        content[5] ^= 0xFF
        let replacement = path(torrent) + ".new"
        #expect(FileManager.default.createFile(atPath: replacement, contents: Data(content)))
        #expect(rename(replacement, path(torrent)) == 0)
        let second = source.openReader(fileIndex: 0)
        guard case .failure(.storage(_, .damaged, _)) = read(source, second, offset: 0, length: 100) else {
            Issue.record("bytes of a replaced file were served without a check")
            return
        }
        source.closeReader(second)
        source.shutdown()
    }

    @Test func descriptorsStayBoundedOverManyFiles() throws {
        let torrent = try makeTorrent(files: 300)
        defer { torrent.remove() }
        let source = DirectoryContentSource(metainfo: torrent.metainfo, directory: torrent.directory)
        var open: [ReaderID] = []
        for file in 0..<300 {
            let reader = source.openReader(fileIndex: file)
            #expect((try? read(source, reader, file: file, offset: 0, length: 10).get()) != nil, "file \(file)")
            if file % 3 == 0 { open.append(reader) } else { source.closeReader(reader) }
            #expect(source.openFileCount <= DirectoryContentSource.maxOpenFiles + open.count)
        }
        for reader in open { source.closeReader(reader) }
        #expect(source.openFileCount <= DirectoryContentSource.maxOpenFiles)
        _ = source.statusSnapshot()
        #expect(source.openFileCount <= DirectoryContentSource.maxOpenFiles)
        source.shutdown()
    }
}
