import Dispatch
import Foundation
import Glibc
import SwarmMetainfo
@testable import SwarmStorage
import Synchronization
import Testing

/// A layout with pieces spanning files, an empty file and a padding file.
private let mixedFiles: [TestFile] = [
    TestFile(path: ["a.bin"], length: 100),
    TestFile(path: ["empty.txt"], length: 0),
    TestFile(path: ["sub", "b.bin"], length: 3000),
    TestFile(path: [".pad", "50"], length: 50, isPadding: true),
    TestFile(path: ["sub", "deeper", "c.bin"], length: 5000),
]

@Suite struct PieceStoreTests {
    @Test func multiFileRoundTripSplitsPiecesAcrossFiles() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "mixed", files: mixedFiles, pieceLength: 1024, directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        // Write in reverse order so files are created by pieces that do not start them.
        try torrent.writePieces((0..<torrent.layout.pieceCount).reversed(), to: store)
        for piece in 0..<torrent.layout.pieceCount {
            let size = torrent.layout.pieceSize(piece)
            var buffer = [UInt8](repeating: 0xAA, count: size)
            try buffer.withUnsafeMutableBytes { raw in try store.readPiece(piece, into: raw) }
            let start = Int(torrent.layout.pieceOffset(piece))
            #expect(buffer == Array(torrent.payload[start..<start + size]), "piece \(piece)")
        }
        for file in torrent.layout.files {
            let path = dir + "/" + file.path.joined(separator: "/")
            if file.isPadding {
                #expect(!FileManager.default.fileExists(atPath: path), "padding file must never be created")
            } else {
                let start = Int(file.offset)
                #expect(contents(path) == Array(torrent.payload[start..<start + Int(file.length)]), "\(path)")
            }
        }
        #expect(FileManager.default.fileExists(atPath: dir + "/mixed/empty.txt"))
        store.close()
    }

    /// Pieces span files, a padding file and several 64 KiB hashing steps; one flipped byte in
    /// a file fails exactly the piece it belongs to; a missing file is an error, not a mismatch.
    @Test func storedPiecesAreHashCheckedInSteps() throws {
        let temp = TemporaryDirectory()
        let files = [TestFile(path: ["a"], length: 150_000), TestFile(path: [".pad", "1"], length: 46_608, isPadding: true),
                     TestFile(path: ["b"], length: 300_001)]
        let torrent = try TestTorrent(name: "steps", files: files, pieceLength: 1 << 17, directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        #expect(throws: StorageError.self) { try store.storedPieceMatches(0, expected: torrent.metainfo.pieceHash(0)) }
        try torrent.writePieces(0..<torrent.layout.pieceCount, to: store)
        for piece in 0..<torrent.layout.pieceCount {
            #expect(try store.storedPieceMatches(piece, expected: torrent.metainfo.pieceHash(piece)), "piece \(piece)")
        }
        let path = dir + "/steps/b"
        let fd = open(path, O_WRONLY)
        var flipped = ~torrent.payload[150_000 + 46_608 + 200_000]
        #expect(pwrite(fd, &flipped, 1, 200_000) == 1)
        close(fd)
        let damaged = (150_000 + 46_608 + 200_000) / (1 << 17)
        for piece in 0..<torrent.layout.pieceCount {
            #expect(try store.storedPieceMatches(piece, expected: torrent.metainfo.pieceHash(piece)) == (piece != damaged),
                    "piece \(piece)")
        }
    }

    @Test(arguments: [0, 1, 65_536, 100_000, 1 << 20])
    func theDigestOfZerosIsThatOfAZeroBuffer(count: Int) {
        let zeros = [UInt8](repeating: 0, count: count)
        #expect(PieceHasher.sha1OfZeros(count: count) == zeros.withUnsafeBytes { PieceHasher.sha1($0) })
    }

    @Test func readBlockReadsInsidePiecesAndRejectsOutOfRange() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "mixed", files: mixedFiles, pieceLength: 1024, directory: temp.path)
        let store = try PieceStore(layout: torrent.layout, directory: temp.path + "/cache")
        try torrent.writePieces(0..<torrent.layout.pieceCount, to: store)
        // Piece 3 covers bytes 3072..<4096: the end of b.bin, the padding (3100..<3150) and c.bin.
        var block = [UInt8](repeating: 0xFF, count: 200)
        try block.withUnsafeMutableBytes { raw in try store.readBlock(piece: 3, begin: 10, into: raw) }
        #expect(block == Array(torrent.payload[3082..<3282]))
        #expect(block[3100 - 3082 ..< 3150 - 3082].allSatisfy { $0 == 0 }, "padding reads as zeros")
        var tooFar = [UInt8](repeating: 0, count: 100)
        #expect(throws: StorageError.outOfRange(piece: 3, begin: 1000, length: 100)) {
            try tooFar.withUnsafeMutableBytes { raw in try store.readBlock(piece: 3, begin: 1000, into: raw) }
        }
        #expect(throws: StorageError.outOfRange(piece: 99, begin: 0, length: 0)) {
            try tooFar.withUnsafeMutableBytes { raw in try store.readPiece(99, into: raw) }
        }
        #expect(throws: StorageError.bufferSize(piece: 0, expected: 1024, actual: 100)) {
            try tooFar.withUnsafeBytes { raw in try store.writePiece(0, from: raw) }
        }
    }

    @Test func readingMissingOrShortFilesIsAnErrorNotZeros() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "single", files: [TestFile(path: [], length: 4096)], pieceLength: 1024,
                                      singleFile: true, directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        var buffer = [UInt8](repeating: 0, count: 1024)
        #expect(throws: StorageError.missingFile(path: dir + "/single", piece: 1)) {
            try buffer.withUnsafeMutableBytes { raw in try store.readPiece(1, into: raw) }
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/single", contents: Data(torrent.payload[0..<1500]))
        #expect(throws: StorageError.shortFile(path: dir + "/single", piece: 1, needed: 2048, actual: 1500)) {
            try buffer.withUnsafeMutableBytes { raw in try store.readPiece(1, into: raw) }
        }
        // The existing, long-enough part still reads.
        try buffer.withUnsafeMutableBytes { raw in try store.readPiece(0, into: raw) }
        #expect(buffer == Array(torrent.payload[0..<1024]))
    }

    @Test func filesAreSparseUntilWrittenAndHolesCanBePunched() throws {
        let temp = TemporaryDirectory()
        let length = 8 << 20
        let torrent = try TestTorrent(name: "big", files: [TestFile(path: [], length: length)], pieceLength: 256 << 10,
                                      singleFile: true, directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        try torrent.writePieces([5], to: store)
        try store.sync()
        let path = dir + "/big"
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(Int(info.st_size) == length, "extended to full length")
        let afterOne = allocated(path)
        #expect(afterOne >= 256 << 10 && afterOne < 1 << 20, "only the written piece is allocated: \(afterOne)")
        #expect(store.allocatedBytes() == afterOne)

        try torrent.writePieces(0..<torrent.layout.pieceCount, to: store)
        try store.sync()
        let full = allocated(path)
        #expect(full >= Int64(length))
        try store.punchHole(piece: 5)
        try store.punchHole(piece: 6)
        let punched = allocated(path)
        #expect(punched <= full - Int64(2 * (256 << 10)), "punching two pieces frees them: \(full) -> \(punched)")
        var buffer = [UInt8](repeating: 0xAB, count: 256 << 10)
        try buffer.withUnsafeMutableBytes { raw in try store.readPiece(5, into: raw) }
        #expect(buffer.allSatisfy { $0 == 0 }, "a punched piece reads as zeros")
        try buffer.withUnsafeMutableBytes { raw in try store.readPiece(4, into: raw) }
        #expect(buffer == Array(torrent.payload[4 << 18 ..< 5 << 18]), "neighbours untouched")
        #expect(!store.hasAllocatedData(piece: 5))
        #expect(store.hasAllocatedData(piece: 4))
    }

    @Test func refusesUnsafePaths() throws {
        for bad in [["..", "etc"], ["a", "", "b"], ["."], ["a/b"], []] {
            let layout = FileLayout(pieceLength: 16, files: [(path: bad, length: 10, isPadding: false)])
            #expect(throws: StorageError.unsafePath(components: bad)) {
                _ = try PieceStore(layout: layout, directory: "/tmp/never-created")
            }
        }
    }

    @Test func boundsOpenDescriptorsWithManyFiles() throws {
        let temp = TemporaryDirectory()
        let files = (0..<60).map { TestFile(path: ["d\($0 % 7)", "f\($0).bin"], length: 700 + $0) }
        let torrent = try TestTorrent(name: "many", files: files, pieceLength: 1024, directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir, maxOpenFiles: 8)
        try torrent.writePieces(0..<torrent.layout.pieceCount, to: store)
        #expect(store.openFileCount <= 8)
        store.pinFile(0)
        let pinned = try store.fileDescriptor(forFile: 0)
        try store.sync()
        for file in torrent.layout.files {
            let start = Int(file.offset)
            #expect(contents(dir + "/" + file.path.joined(separator: "/")) == Array(torrent.payload[start..<start + Int(file.length)]))
        }
        // Cycle every other file through the LRU: the pinned fd must stay valid and on file 0.
        var scratch = [UInt8](repeating: 0, count: 1024)
        for piece in 0..<torrent.layout.pieceCount - 1 {
            try scratch.withUnsafeMutableBytes { raw in try store.readPiece(piece, into: raw) }
        }
        var first = [UInt8](repeating: 0, count: 700)
        #expect(pread(pinned, &first, 700, 0) == 700)
        #expect(first == Array(torrent.payload[0..<700]))
        #expect(store.openFileCount <= 9)
        store.unpinFile(0)
        for piece in 0..<torrent.layout.pieceCount - 1 {
            try scratch.withUnsafeMutableBytes { raw in try store.readPiece(piece, into: raw) }
        }
        #expect(store.openFileCount <= 8, "unpinned fds fall back under the LRU bound")
    }

    /// Pieces are written in 16 KiB `pwrite`s: piece sizes below, at, not a multiple of, and
    /// several times that chunk, with file boundaries falling inside chunks.
    @Test(arguments: [16384, 40_000, 1 << 17])
    func concurrentWritersAndReadersSeeCorrectBytes(pieceLength: Int) throws {
        let temp = TemporaryDirectory()
        let files = (0..<12).map { TestFile(path: ["f\($0)"], length: 50_000 + 977 * $0) }
        let torrent = try TestTorrent(name: "conc", files: files, pieceLength: pieceLength, directory: temp.path)
        let store = try PieceStore(layout: torrent.layout, directory: temp.path + "/cache", maxOpenFiles: 4)
        let count = torrent.layout.pieceCount
        let failures = FailureCounter()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for piece in stride(from: worker, to: count, by: 4) {
                do {
                    try torrent.writePieces([piece], to: store)
                    let size = torrent.layout.pieceSize(piece)
                    var buffer = [UInt8](repeating: 0, count: size)
                    try buffer.withUnsafeMutableBytes { raw in try store.readPiece(piece, into: raw) }
                    let start = Int(torrent.layout.pieceOffset(piece))
                    if buffer != Array(torrent.payload[start..<start + size]) { failures.add() }
                } catch {
                    failures.add()
                }
            }
        }
        #expect(failures.value == 0)
        #expect(store.openFileCount <= 8)
    }

    @Test func closeNeverClosesAnFdUnderItsUser() throws {
        let temp = TemporaryDirectory()
        let table = FileHandleTable(root: temp.path, capacity: 4, writable: true)
        let path = temp.path + "/f"
        let fd = try table.lease(file: 0, components: ["f"], path: path, access: .write(length: 10), piece: nil)
        table.closeAll()
        #expect(table.openCount == 1, "the leased fd stays open")
        var byte: UInt8 = 7
        #expect(pwrite(fd, &byte, 1, 0) == 1)
        table.release(file: 0, wrote: true)
        #expect(table.openCount == 0, "the last holder closed it")
        #expect(throws: StorageError.io(operation: "open", path: path, piece: nil, errno: EBADF)) {
            _ = try table.lease(file: 0, components: ["f"], path: path, access: .read, piece: nil)
        }
        #expect(contents(path) == [7] + [UInt8](repeating: 0, count: 9))
    }

    @Test func fileDescriptorCreatesTheSparseFile() throws {
        let temp = TemporaryDirectory()
        let torrent = try TestTorrent(name: "fd", files: mixedFiles, pieceLength: 1024, directory: temp.path)
        let dir = temp.path + "/cache"
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        let fd = try store.fileDescriptor(forFile: 4)
        var info = stat()
        #expect(fstat(fd, &info) == 0)
        #expect(info.st_size == 5000)
        #expect(info.st_blocks == 0)
        let readOnly = try PieceStore(layout: torrent.layout, directory: temp.path + "/nothing", mode: .readOnly)
        #expect(throws: StorageError.missingFile(path: temp.path + "/nothing/fd/a.bin", piece: nil)) {
            _ = try readOnly.fileDescriptor(forFile: 0)
        }
        #expect(!FileManager.default.fileExists(atPath: temp.path + "/nothing"), "read-only stores create nothing")
    }

    @Test func fullDiskSurfacesAsDiskFull() throws {
        guard geteuid() == 0 else { return }  // needs root to mount a tmpfs
        let temp = TemporaryDirectory()
        let mountPoint = temp.path + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard mount("tmpfs", mountPoint, "tmpfs", 0, "size=1m") == 0 else {
            Issue.record("mount tmpfs failed: \(String(cString: strerror(errno)))")
            return
        }
        defer { _ = umount2(mountPoint, Int32(MNT_DETACH)) }
        let torrent = try TestTorrent(name: "huge", files: [TestFile(path: [], length: 8 << 20)], pieceLength: 256 << 10,
                                      singleFile: true, directory: temp.path)
        let store = try PieceStore(layout: torrent.layout, directory: mountPoint)
        defer { store.close() }
        let checkpointer = Checkpointer(store: store, infoHash: torrent.metainfo.infoHash,
                                        verified: Bitfield(count: torrent.layout.pieceCount))
        try checkpointer.checkpoint()  // an empty record, saved while there is room
        var written = 0
        var failure: StorageError?
        for piece in 0..<torrent.layout.pieceCount {
            do {
                try torrent.writePieces([piece], to: store)
                written += 1
            } catch {
                failure = error as? StorageError
                break
            }
        }
        #expect(written <= 4, "a 1 MiB tmpfs holds at most 4 pieces of 256 KiB")
        #expect(failure == .diskFull(path: mountPoint + "/huge", piece: written))
        // Saving the record on the full disk fails cleanly and leaves the previous record whole.
        for piece in 0..<written { checkpointer.pieceWritten(piece) }
        #expect(throws: StorageError.self) { try checkpointer.checkpoint() }
        #expect(ResumeRecord.load(directory: mountPoint, metainfo: torrent.metainfo)?.verified.isEmpty == true)
        // The pieces written before the disk filled still read back.
        var buffer = [UInt8](repeating: 0, count: 256 << 10)
        for piece in 0..<written {
            try buffer.withUnsafeMutableBytes { raw in try store.readPiece(piece, into: raw) }
            #expect(buffer == Array(torrent.payload[piece << 18 ..< (piece + 1) << 18]))
        }
        // Space returns: punch a hole and the failed piece now fits.
        if written > 0 {
            try checkpointer.evict([0])
            try torrent.writePieces([written], to: store)
            checkpointer.pieceWritten(written)
            try checkpointer.checkpoint()
            let record = try #require(ResumeRecord.load(directory: mountPoint, metainfo: torrent.metainfo))
            #expect(record.verified.setIndices == Array(1...written))
        }
    }
}

/// A thread-safe counter for failures inside concurrentPerform.
final class FailureCounter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
