import Foundation
import Glibc
import SwarmMetainfo
@testable import SwarmStorage
import Testing

/// The cache folder is not trusted: symlinks are never followed, FIFOs never opened for real.
@Suite struct UntrustedCacheTests {
    let files = [TestFile(path: ["a.bin"], length: 3000), TestFile(path: ["sub", "b.bin"], length: 5000)]

    func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) != -1 }

    @Test func pinsAreCountedAndHoldTheDescriptorAgainstTheLRU() throws {
        let temp = TemporaryDirectory()
        let many = (0..<8).map { TestFile(path: ["f\($0)"], length: 100) }
        let torrent = try TestTorrent(name: "pins", files: many, pieceLength: 100, directory: temp.path)
        let store = try PieceStore(layout: torrent.layout, directory: temp.path + "/cache", maxOpenFiles: 2)
        try torrent.writePieces(0..<torrent.layout.pieceCount, to: store)
        // Two readers of file 0; the first one's unpin must not expose the second one's replies.
        store.pinFile(0)
        store.pinFile(0)
        let fd = try store.fileDescriptor(forFile: 0)
        store.unpinFile(0)
        var buffer = [UInt8](repeating: 0, count: 100)
        for piece in 1..<8 {
            try buffer.withUnsafeMutableBytes { try store.readPiece(piece, into: $0) }
        }
        // Still open, and still on file 0 (not a number the kernel reused for another file).
        #expect(isOpen(fd))
        var byDescriptor = stat()
        var byPath = stat()
        #expect(fstat(fd, &byDescriptor) == 0 && stat(temp.path + "/cache/pins/f0", &byPath) == 0)
        #expect(byDescriptor.st_ino == byPath.st_ino)
        let again = try store.fileDescriptor(forFile: 0)
        #expect(again == fd)
        #expect(store.openFileCount <= 3)
        store.unpinFile(0)
        store.unpinFile(0)  // one too many: ignored
        for piece in 1..<8 {
            try buffer.withUnsafeMutableBytes { try store.readPiece(piece, into: $0) }
        }
        #expect(store.openFileCount <= 2)
        // A pin taken before the file was ever opened holds too.
        store.pinFile(5)
        let pinnedLater = try store.fileDescriptor(forFile: 5)
        for piece in [1, 2, 3, 4, 6, 7] {
            try buffer.withUnsafeMutableBytes { try store.readPiece(piece, into: $0) }
        }
        #expect(isOpen(pinnedLater))
        let laterAgain = try store.fileDescriptor(forFile: 5)
        #expect(laterAgain == pinnedLater)
        store.close()
    }

    @Test func aSymlinkedPayloadFileIsNeitherReadNorWritten() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "t", files: files, pieceLength: 1024, directory: temp.path)
        let dir = temp.path + "/cache"
        let outside = temp.path + "/outside.bin"
        #expect(FileManager.default.createFile(atPath: outside, contents: Data("precious".utf8)))
        try FileManager.default.createDirectory(atPath: dir + "/t", withIntermediateDirectories: true)
        #expect(symlink(outside, dir + "/t/a.bin") == 0)
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        #expect(throws: StorageError.unsafeEntry(path: dir + "/t/a.bin", kind: .symbolicLink)) {
            try torrent.writePieces([0], to: store)
        }
        var buffer = [UInt8](repeating: 0, count: 1024)
        #expect(throws: StorageError.unsafeEntry(path: dir + "/t/a.bin", kind: .symbolicLink)) {
            try buffer.withUnsafeMutableBytes { try store.readPiece(0, into: $0) }
        }
        #expect(!store.isPresent(piece: 0, fileLengths: store.storedFileLengths()))
        #expect(contents(outside) == Array("precious".utf8))
        let message = "\(StorageError.unsafeEntry(path: dir + "/t/a.bin", kind: .symbolicLink))"
        #expect(message.contains(dir + "/t/a.bin") && message.contains("symbolic link"))
        store.close()
    }

    @Test func aSymlinkedIntermediateDirectoryIsNeverEntered() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "t", files: files, pieceLength: 1024, directory: temp.path)
        let dir = temp.path + "/cache"
        let outside = temp.path + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/t", withIntermediateDirectories: true)
        #expect(symlink(outside, dir + "/t/sub") == 0)
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        #expect(throws: StorageError.unsafeEntry(path: dir + "/t/sub", kind: .symbolicLink)) {
            try torrent.writePieces(0..<torrent.layout.pieceCount, to: store)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        // Also a symlink at the torrent's own folder.
        let other = temp.path + "/cache2"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        #expect(symlink(outside, other + "/t") == 0)
        let second = try PieceStore(layout: torrent.layout, directory: other)
        #expect(throws: StorageError.unsafeEntry(path: other + "/t", kind: .symbolicLink)) {
            try torrent.writePieces([0], to: second)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        store.close()
        second.close()
    }

    @Test func aFIFOAtAPayloadPathIsRefusedWithoutBlocking() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "t", files: files, pieceLength: 1024, directory: temp.path)
        let dir = temp.path + "/cache"
        try torrent.writePayloadDirectly(into: dir)
        #expect(unlink(dir + "/t/a.bin") == 0 && mkfifo(dir + "/t/a.bin", 0o644) == 0)
        for mode in [PieceStore.Mode.readOnly, .readWrite] {
            let store = try PieceStore(layout: torrent.layout, directory: dir, mode: mode)
            var buffer = [UInt8](repeating: 0, count: 1024)
            #expect(throws: StorageError.unsafeEntry(path: dir + "/t/a.bin", kind: .fifo)) {
                try buffer.withUnsafeMutableBytes { try store.readPiece(0, into: $0) }
            }
            #expect(!store.isPresent(piece: 0, fileLengths: store.storedFileLengths()))
            if mode == .readWrite {
                #expect(throws: StorageError.unsafeEntry(path: dir + "/t/a.bin", kind: .fifo)) {
                    try torrent.writePieces([0], to: store)
                }
            }
            store.close()
        }
    }

    @Test func aSymlinkedLockIsRefusedAndItsTargetKept() throws {
        let temp = TemporaryDirectory()
        let dir = temp.path + "/cache"
        let outside = temp.path + "/precious.txt"
        #expect(FileManager.default.createFile(atPath: outside, contents: Data("keep me".utf8)))
        try FileManager.default.createDirectory(atPath: dir + "/.swarmfs", withIntermediateDirectories: true)
        #expect(symlink(outside, dir + "/.swarmfs/lock") == 0)
        #expect(throws: StorageError.unsafeEntry(path: dir + "/.swarmfs/lock", kind: .symbolicLink)) {
            _ = try CacheLock.acquire(directory: dir)
        }
        #expect(!CacheLock.isHeld(directory: dir))
        #expect(contents(outside) == Array("keep me".utf8))
        // A symlinked state folder is not entered either.
        let other = temp.path + "/cache2"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        #expect(symlink(temp.path, other + "/.swarmfs") == 0)
        #expect(throws: StorageError.unsafeEntry(path: other + "/.swarmfs", kind: .symbolicLink)) {
            _ = try CacheLock.acquire(directory: other)
        }
        #expect(FileManager.default.fileExists(atPath: temp.path + "/lock") == false)
    }

    @Test func aSymlinkedOrFIFOResumeRecordIsTreatedAsMissingAndReplacedNotFollowed() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "t", files: files, pieceLength: 1024, directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        try torrent.writePieces(0..<torrent.layout.pieceCount, to: store)
        let record = ResumeRecord.capture(store: store, infoHash: torrent.metainfo.infoHash,
                                          verified: Bitfield(count: torrent.layout.pieceCount))
        try record.save(directory: dir)
        let saved = try #require(contents(dir + "/.swarmfs/resume"))
        // A symlink to a valid record elsewhere: not read, and saving replaces the link itself.
        let outside = temp.path + "/elsewhere"
        #expect(FileManager.default.createFile(atPath: outside, contents: Data(saved)))
        #expect(unlink(dir + "/.swarmfs/resume") == 0 && symlink(outside, dir + "/.swarmfs/resume") == 0)
        #expect(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo) == nil)
        #expect(symlink(outside, dir + "/.swarmfs/resume.tmp") == 0)
        try record.save(directory: dir)
        #expect(contents(outside) == saved)
        #expect(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo) != nil)
        // A FIFO: load returns at once, and cache listing does not block on it.
        #expect(unlink(dir + "/.swarmfs/resume") == 0 && mkfifo(dir + "/.swarmfs/resume", 0o644) == 0)
        #expect(ResumeRecord.load(directory: dir, metainfo: torrent.metainfo) == nil)
        try CacheRoot.storeTorrent(torrent.torrentBytes, directory: dir)
        let entry = try #require(CacheRoot.entry(directory: dir))
        #expect(entry.name == "t" && entry.verifiedPieces == nil)
        store.close()
    }
}
