import Foundation
import Logging
import SwarmFS
import SwarmMetainfo
import SwarmContent
import Synchronization
import Testing
@testable import SwarmLibrary

/// A source that serves nothing; enough for the library's bookkeeping.
final class FakeSource: TorrentContentSource {
    let metainfo: Metainfo
    init(_ metainfo: Metainfo) { self.metainfo = metainfo }
    func openReader(fileIndex: Int) -> ReaderID { ReaderID(rawValue: 1) }
    func closeReader(_ reader: ReaderID) {}
    func read(_ reader: ReaderID, fileIndex: Int, offset: Int64, length: Int,
              completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void) -> ReadTicket {
        completion(.failure(.shutdown))
        return .completed
    }
    func statusSnapshot() -> SessionStatus {
        SessionStatus(infoHash: metainfo.infoHash.hex, name: metainfo.name, totalLength: metainfo.totalLength,
                      verifiedBytes: 0, verifiedPieces: 0, pieceCount: metainfo.layout.pieceCount, downloadedBytes: 0,
                      uploadedBytes: 0, downloadRate: 0, uploadRate: 0, peers: 0, cacheDiskBytes: 0, pendingReads: 0,
                      piecesWaitingForReaders: 0, files: [])
    }
}

/// Starts fake sources, checking that two sessions of one torrent (one info-hash, one cache
/// folder) never overlap; starts of
/// names in `held` wait until released, names in `failing` fail.
final class FakeStarter: Sendable {
    private struct State {
        var running: [String: Int] = [:]
        var overlaps = 0
        var starts: [String] = []
        var stops: [String] = []
        var held: Set<String> = []
        var failing: Set<String> = []
    }
    private let state = Mutex(State())

    func hold(_ name: String) { state.withLock { _ = $0.held.insert(name) } }
    func release(_ name: String) { state.withLock { _ = $0.held.remove(name) } }
    func fail(_ name: String) { state.withLock { _ = $0.failing.insert(name) } }
    var starts: [String] { state.withLock { $0.starts } }
    var stops: [String] { state.withLock { $0.stops } }
    var overlaps: Int { state.withLock { $0.overlaps } }
    var runningCount: Int { state.withLock { $0.running.values.reduce(0, +) } }

    var starter: LibraryTorrentStarter {
        { [self] origin, _ async throws(LibraryError) -> LibrarySource in
            guard case let .metainfo(metainfo) = origin else {
                // A magnet link: this fake knows no swarm, so it looks until it is cancelled.
                while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(2)) }
                throw .startFailed(infoHash: "", name: "magnet", detail: "cancelled")
            }
            let name = metainfo.name
            state.withLock { $0.starts.append(name) }
            while state.withLock({ $0.held.contains(name) }) { try? await Task.sleep(for: .milliseconds(2)) }
            if state.withLock({ $0.failing.contains(name) }) {
                throw .startFailed(infoHash: metainfo.infoHash.hex, name: name, detail: "refused by the test")
            }
            let key = metainfo.infoHash.hex
            state.withLock { state in
                state.running[key, default: 0] += 1
                if state.running[key, default: 0] > 1 { state.overlaps += 1 }
            }
            return LibrarySource(content: FakeSource(metainfo)) { [self] in
                state.withLock { state in
                    state.running[key, default: 0] -= 1
                    state.stops.append(name)
                }
            }
        }
    }
}

/// Waits (up to 10 s) for `condition`: the library follows the folder asynchronously.
func eventually(_ what: Comment, _ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async {
    for _ in 0..<5000 where !condition() { try? await Task.sleep(for: .milliseconds(2)) }
    #expect(condition(), what, sourceLocation: sourceLocation)
}

@Suite struct LibraryTests {
    func folderNames(_ fileSystem: LibraryFileSystem) -> [String] { fileSystem.folders().map(\.name) }

    func withLibrary(_ body: (String, LibraryFileSystem, FakeStarter, Library) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "swarmfs-library-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withLibrary(in: directory, body)
    }

    func withLibrary(in directory: String, _ body: (String, LibraryFileSystem, FakeStarter, Library) async throws -> Void) async throws {
        let fileSystem = LibraryFileSystem(ownership: FSOwnership(uid: 0, gid: 0, time: 0))
        let starter = FakeStarter()
        let library = Library(directory: directory, cacheRoot: directory + "/cache", fileSystem: fileSystem,
                              logger: Logger(label: "swarmfs.test.library"), starter: starter.starter)
        try await library.open()
        do {
            try await body(directory, fileSystem, starter, library)
        } catch {
            await library.close()
            throw error
        }
        await library.close()
        #expect(starter.runningCount == 0, "every session is stopped at close")
        #expect(starter.overlaps == 0, "two sessions of one torrent overlapped")
    }

    func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func openReturnsWithEveryTorrentOfTheFolderStarted() async throws {
        let directory = NSTemporaryDirectory() + "swarmfs-library-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try write(torrentBytes(name: "alpha"), to: directory + "/a.torrent")
        try write(torrentBytes(name: "beta"), to: directory + "/b.torrent")
        try write(Array("junk".utf8), to: directory + "/c.torrent")
        try await withLibrary(in: directory) { _, fileSystem, starter, _ in
            #expect(Set(folderNames(fileSystem)) == ["alpha", "beta"])
            #expect(Set(starter.starts) == ["alpha", "beta"])
            #expect(fileSystem.statusJSON().contains("\"file\":\"c.torrent\""))
        }
    }

    @Test func filesDroppedInAndRemovedComeAndGo() async throws {
        try await withLibrary { directory, fileSystem, starter, _ in
            #expect(folderNames(fileSystem).isEmpty)
            try write(torrentBytes(name: "alpha"), to: directory + "/a.torrent")
            await eventually("the dropped torrent appears") { folderNames(fileSystem) == ["alpha"] }
            try FileManager.default.removeItem(atPath: directory + "/a.torrent")
            await eventually("the removed torrent goes") { folderNames(fileSystem).isEmpty }
            await eventually("its session is stopped") { starter.stops == ["alpha"] }
        }
    }

    @Test func aTorrentRemovedWhileStartingIsStoppedAndNeverShown() async throws {
        try await withLibrary { directory, fileSystem, starter, _ in
            starter.hold("alpha")
            try write(torrentBytes(name: "alpha"), to: directory + "/a.torrent")
            await eventually("the start begins") { starter.starts == ["alpha"] }
            try FileManager.default.removeItem(atPath: directory + "/a.torrent")
            await eventually("the removal is seen") { !fileSystem.statusJSON().contains("\"state\":\"starting\"") }
            // Dropped in again: the second start must wait until the first session is stopped.
            try write(torrentBytes(name: "alpha"), to: directory + "/again.torrent")
            await eventually("the second start is asked for") { fileSystem.statusJSON().contains("\"state\":\"starting\"") }
            starter.release("alpha")
            await eventually("the torrent shows once") { folderNames(fileSystem) == ["alpha"] }
            await eventually("the first session was stopped") { starter.starts.count == 2 && starter.stops.count == 1 }
        }
    }

    @Test func aStartThatFailsShowsAnEmptyFolderWithTheReason() async throws {
        try await withLibrary { directory, fileSystem, starter, _ in
            starter.fail("alpha")
            try write(torrentBytes(name: "alpha"), to: directory + "/a.torrent")
            await eventually("the folder appears") { folderNames(fileSystem) == ["alpha"] }
            let status = fileSystem.statusJSON()
            #expect(status.contains("\"state\":\"failed\"") && status.contains("refused by the test"))
        }
    }

    @Test func aReplacedFileSwapsTheSessions() async throws {
        try await withLibrary { directory, fileSystem, starter, _ in
            try write(torrentBytes(name: "clip", length: 5), to: directory + "/c.torrent")
            await eventually("the first torrent shows") { folderNames(fileSystem) == ["clip"] }
            let first = fileSystem.folders()[0].infoHash
            let replacement = directory + "/.c.torrent.part"
            try write(torrentBytes(name: "clip", length: 9), to: replacement)
            #expect(rename(replacement, directory + "/c.torrent") == 0)
            await eventually("the second torrent shows") { fileSystem.folders().map(\.infoHash) != [first] && folderNames(fileSystem) == ["clip"] }
            await eventually("the first session is stopped") { starter.stops == ["clip"] }
        }
    }
}

@Suite struct LibraryCloseTests {
    @Test func closeWaitsForAStartInFlightAndStopsIt() async throws {
        let directory = NSTemporaryDirectory() + "swarmfs-library-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fileSystem = LibraryFileSystem(ownership: FSOwnership(uid: 0, gid: 0, time: 0))
        let starter = FakeStarter()
        let library = Library(directory: directory, cacheRoot: directory + "/cache", fileSystem: fileSystem,
                              logger: Logger(label: "swarmfs.test.library"), starter: starter.starter)
        try Data(torrentBytes(name: "beta")).write(to: URL(fileURLWithPath: directory + "/b.torrent"))
        try await library.open()
        starter.hold("alpha")
        try Data(torrentBytes(name: "alpha")).write(to: URL(fileURLWithPath: directory + "/a.torrent"))
        await eventually("the start begins") { starter.starts == ["beta", "alpha"] }
        let closing = Task { await library.close() }
        // Beta stopping shows that the close is under way before alpha's start ends.
        await eventually("close stops the running torrent") { starter.stops == ["beta"] }
        starter.release("alpha")
        await closing.value
        #expect(starter.runningCount == 0 && starter.stops == ["beta", "alpha"])
    }
}

@Suite struct DirectoryWatcherSnapshotTests {
    @Test func onlyRegularFilesAreReadAndLinksAreFollowed() throws {
        let directory = NSTemporaryDirectory() + "swarmfs-snapshot-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(mkfifo(directory + "/pipe.torrent", 0o600) == 0)
        // A FIFO never blocks the watcher: opened non-blocking, refused as not a regular file.
        #expect(DirectoryWatcher.snapshot(of: directory + "/pipe.torrent", isMagnet: false) == .unreadable("not a regular file"))
        #expect(mkdir(directory + "/folder.torrent", 0o700) == 0)
        #expect(DirectoryWatcher.snapshot(of: directory + "/folder.torrent", isMagnet: false) == .unreadable("not a regular file"))
        #expect(DirectoryWatcher.snapshot(of: directory + "/missing.torrent", isMagnet: false) == .absent)
        try Data(torrentBytes(name: "alpha")).write(to: URL(fileURLWithPath: directory + "/real"))
        #expect(symlink(directory + "/real", directory + "/link.torrent") == 0)
        #expect(DirectoryWatcher.snapshot(of: directory + "/link.torrent", isMagnet: false) == .contents(torrentBytes(name: "alpha")))
        let big = [UInt8](repeating: 0x61, count: LibraryCatalog.maxMagnetFileSize + 1)
        try Data(big).write(to: URL(fileURLWithPath: directory + "/big.magnet"))
        guard case .unreadable = DirectoryWatcher.snapshot(of: directory + "/big.magnet", isMagnet: true) else {
            Issue.record("an oversized magnet file was read")
            return
        }
    }
}
