import Foundation
import Glibc
import SwarmMetainfo
@testable import SwarmStorage
import Testing

@Suite struct CacheRootTests {
    @Test func defaultRootFollowsXDGThenHome() {
        #expect(CacheRoot.defaultPath(environment: ["XDG_CACHE_HOME": "/x/cache", "HOME": "/h"]) == "/x/cache/swarmfs")
        #expect(CacheRoot.defaultPath(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/h"]) == "/h/.cache/swarmfs")
        #expect(CacheRoot.defaultPath(environment: ["HOME": "/h"]) == "/h/.cache/swarmfs")
    }

    @Test func lockIsExclusiveAndReleasable() throws {
        let temp = TemporaryDirectory()
        let lock = try CacheLock.acquire(directory: temp.path)
        #expect(CacheLock.isHeld(directory: temp.path))
        #expect(throws: StorageError.locked(directory: temp.path)) { _ = try CacheLock.acquire(directory: temp.path) }
        lock.release()
        #expect(!CacheLock.isHeld(directory: temp.path))
        let again = try CacheLock.acquire(directory: temp.path)
        again.release()
    }

    @Test func removeLockedDeletesTheHoldersOwnDirectory() throws {
        let temp = TemporaryDirectory()
        let dir = temp.path + "/entry"
        let lock = try CacheLock.acquire(directory: dir)
        _ = FileManager.default.createFile(atPath: dir + "/data", contents: Data([1, 2, 3]))
        try CacheRoot.removeLocked(directory: dir, lock: lock)
        #expect(!FileManager.default.fileExists(atPath: dir))
        #expect(!CacheLock.isHeld(directory: dir))
    }

    /// Makes a cache entry for a torrent with `pieces` of its pieces written and recorded.
    private func makeEntry(root: String, temp: TemporaryDirectory, name: String, seed: UInt64, pieces: Range<Int>,
                           lastUsed: Int) throws -> TestTorrent {
        let torrent = try TestTorrent(name: name, files: [TestFile(path: ["data"], length: 64 << 10)],
                                      pieceLength: 16 << 10, seed: seed, directory: temp.path)
        let dir = CacheRoot.directory(root: root, infoHash: torrent.metainfo.infoHash)
        let store = try PieceStore(layout: torrent.layout, directory: dir)
        try CacheRoot.storeTorrent(torrent.torrentBytes, directory: dir)
        let checkpointer = Checkpointer(store: store, infoHash: torrent.metainfo.infoHash,
                                        verified: Bitfield(count: torrent.layout.pieceCount))
        try torrent.writePieces(pieces, to: store)
        for piece in pieces { checkpointer.pieceWritten(piece) }
        try checkpointer.checkpoint()
        CacheRoot.markUsed(directory: dir)
        setModificationTime(StateDirectory.path(dir) + "/last-used", seconds: lastUsed)
        store.close()
        return torrent
    }

    @Test func listsRemovesAndPrunesLeastRecentlyUsedFirst() throws {
        let temp = TemporaryDirectory()
        let root = temp.path + "/root"
        let old = try makeEntry(root: root, temp: temp, name: "old", seed: 1, pieces: 0..<4, lastUsed: 1_000)
        let mid = try makeEntry(root: root, temp: temp, name: "mid", seed: 2, pieces: 0..<2, lastUsed: 2_000)
        let new = try makeEntry(root: root, temp: temp, name: "new", seed: 3, pieces: 0..<1, lastUsed: 3_000)
        try FileManager.default.createDirectory(atPath: root + "/not-a-hash", withIntermediateDirectories: true)

        let entries = CacheRoot.entries(root: root)
        #expect(entries.map(\.name) == ["new", "mid", "old"])
        let oldEntry = try #require(entries.last)
        #expect(oldEntry.infoHash == old.metainfo.infoHash.hex)
        #expect(oldEntry.completion == 1.0)
        #expect(entries[1].completion == 0.5)
        #expect(oldEntry.allocatedBytes >= 64 << 10)
        #expect(entries[0].allocatedBytes < oldEntry.allocatedBytes, "sparse: 1 piece uses less than 4")
        #expect(oldEntry.lastUsed == 1_000)

        // An entry in use is kept by prune and refused by remove.
        let midDir = CacheRoot.directory(root: root, infoHash: mid.metainfo.infoHash)
        let lock = try CacheLock.acquire(directory: midDir)
        let locked = CacheRoot.entries(root: root)  // the lock file itself takes a block
        #expect(locked.map(\.inUse) == [false, true, false])
        let total = locked.reduce(Int64(0)) { $0 + $1.allocatedBytes }
        // Just enough room once "old" goes; "mid" would go next but is in use.
        let pruned = try CacheRoot.prune(root: root, maxBytes: total - oldEntry.allocatedBytes)
        #expect(pruned.remainingBytes == total - oldEntry.allocatedBytes)
        #expect(pruned.skippedInUse.isEmpty)
        #expect(pruned.removed.map(\.name) == ["old"])
        #expect(!FileManager.default.fileExists(atPath: oldEntry.directory))
        let squeezed = try CacheRoot.prune(root: root, maxBytes: 1)
        #expect(squeezed.removed.map(\.name) == ["new"])
        #expect(squeezed.skippedInUse.map(\.name) == ["mid"])
        _ = try makeEntry(root: root, temp: temp, name: "new", seed: 3, pieces: 0..<1, lastUsed: 3_000)
        #expect(throws: StorageError.locked(directory: midDir)) { try CacheRoot.remove(try CacheRoot.find("mid", root: root)) }
        lock.release()

        // Remove by name and by hash prefix.
        try CacheRoot.remove(try CacheRoot.find("mid", root: root))
        let prefix = String(new.metainfo.infoHash.hex.prefix(10)).uppercased()
        try CacheRoot.remove(try CacheRoot.find(prefix, root: root))
        #expect(CacheRoot.entries(root: root).isEmpty)
        #expect(throws: StorageError.noSuchCacheEntry("nope")) { _ = try CacheRoot.find("nope", root: root) }
    }

    @Test func fileCompletionCountsBytesPerFile() throws {
        let layout = FileLayout(pieceLength: 10, files: [
            (path: ["a"], length: 15, isPadding: false),
            (path: ["pad"], length: 5, isPadding: true),
            (path: ["b"], length: 0, isPadding: false),
            (path: ["c"], length: 12, isPadding: false),
        ])
        var verified = Bitfield(count: layout.pieceCount)  // pieces: [0,10) [10,20) [20,30) [30,32)
        verified[1] = true
        verified[3] = true
        #expect(FileCompletion.verifiedBytes(layout: layout, verified: verified) == [5, 0, 0, 2])
    }
}
