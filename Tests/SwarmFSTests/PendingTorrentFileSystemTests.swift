import Dispatch
import Foundation
import Synchronization
import Testing
@testable import SwarmFS
import SwarmContent
import SwarmMetainfo

/// A magnet mount's filesystem: empty and waiting until the torrent's tree is attached.
@Suite struct PendingTorrentFileSystemTests {
    let root = InodeTable.rootInode
    let ownership = FSOwnership(uid: 7, gid: 8, time: 1_700_000_000)

    func torrentFileSystem() throws -> SwarmFileSystem {
        let torrent = try TestTorrent(name: "pack", files: [
            .init(path: ["a.bin"], length: 40_000),
            .init(path: ["sub", "b.bin"], length: 5000),
        ])
        let source = DirectoryContentSource(metainfo: torrent.metainfo, directory: torrent.directory)
        return SwarmFileSystem(source: source, uid: 7, gid: 8, mountTime: 1_700_000_000)
    }

    func pending(wait: Duration? = nil) -> PendingTorrentFileSystem {
        PendingTorrentFileSystem(ownership: ownership, lookupWait: wait, waitingStatus: { #"{"state":"magnet"}"# })
    }

    func names(_ fileSystem: PendingTorrentFileSystem) throws -> [String] {
        var names: [String] = []
        var offset: Int64 = 0
        while let entry = try fileSystem.directoryEntry(of: root, at: offset) {
            names.append(entry.name)
            offset = entry.nextOffset
        }
        return names
    }

    @Test func anEmptyReadOnlyRootUntilTheTreeComes() throws {
        let fileSystem = pending(wait: .milliseconds(1))
        #expect(try fileSystem.attributes(of: root).isDirectory)
        #expect(try names(fileSystem) == [".", ".."])
        #expect(fileSystem.entriesMayChange(in: root))
        #expect(throws: FSError.self) { try fileSystem.lookup(parent: root, name: "a.bin") }
        #expect(throws: FSError.self) { try fileSystem.checkAccess(root, mask: W_OK) }
        #expect(throws: FSError.self) { try fileSystem.open(root + 1, flags: O_RDONLY) }
        #expect(try fileSystem.attribute(FSAttributeName.status, of: root) == Array(#"{"state":"magnet"}"#.utf8))
    }

    @Test func aLookupWaitsForTheTreeAndTheKernelHearsOfIt() async throws {
        let fileSystem = pending()
        let notifier = RecordingNotifier()
        fileSystem.setNotifier(notifier)
        let found = Mutex<FSAttributes?>(nil)
        let done = DispatchSemaphore(value: 0)
        let lookup = Thread {
            found.withLock { $0 = try? fileSystem.lookup(parent: InodeTable.rootInode, name: "pack") }
            done.signal()
        }
        lookup.start()
        // Still waiting: nothing attached yet.
        #expect(done.wait(timeout: .now() + .milliseconds(50)) == .timedOut)
        let torrent = try torrentFileSystem()
        fileSystem.attach(torrent)
        #expect(done.wait(timeout: .now() + .seconds(10)) == .success)
        #expect(found.withLock { $0?.isDirectory } == true)
        #expect(!fileSystem.entriesMayChange(in: root))
        #expect(notifier.all == ["entry \(root)/pack", "inode \(root)"])
        // Everything now answers as the torrent's own filesystem does.
        #expect(try names(fileSystem) == [".", "..", "pack"])
        #expect(fileSystem.attached === torrent)
    }

    @Test func waitingLookupsEndWithTheMountOrTheirLimit() throws {
        let limited = pending(wait: .milliseconds(20))
        #expect(throws: FSError.notFound(inode: root, name: "x")) { try limited.lookup(parent: root, name: "x") }

        let fileSystem = pending()
        let outcome = Mutex<String>("")
        let done = DispatchSemaphore(value: 0)
        Thread {
            do {
                _ = try fileSystem.lookup(parent: InodeTable.rootInode, name: "x")
                outcome.withLock { $0 = "found" }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
            done.signal()
        }.start()
        #expect(done.wait(timeout: .now() + .milliseconds(50)) == .timedOut)
        fileSystem.end()
        #expect(done.wait(timeout: .now() + .seconds(10)) == .success)
        #expect(outcome.withLock { $0 }.contains("no entry 'x'"))
        // Attaching after the end changes nothing.
        fileSystem.attach(try torrentFileSystem())
        #expect(fileSystem.attached == nil)
    }

    @Test func aWaitingLookupParksNoThreadAndCanBeCancelled() throws {
        let fileSystem = pending()
        #expect(fileSystem.lookupMayWait(in: root))
        #expect(!fileSystem.lookupMayWait(in: root + 1))
        let answers = Mutex<[String: Result<FSAttributes, FSError>]>([:])
        let cancelled = fileSystem.lookupWhenReady(parent: root, name: "pack") { result in
            answers.withLock { $0["cancelled"] = result }
        }
        let kept = fileSystem.lookupWhenReady(parent: root, name: "pack") { result in
            answers.withLock { $0["kept"] = result }
        }
        #expect(answers.withLock { $0.isEmpty })  // both wait, and the call returned
        cancelled.cancel()
        cancelled.cancel()  // a second cancel answers nothing more
        let first = answers.withLock { $0["cancelled"] }
        guard case .failure(.interrupted)? = first else {
            Issue.record("expected an interrupted lookup, got \(String(describing: first))")
            return
        }
        fileSystem.attach(try torrentFileSystem())
        #expect(answers.withLock { (try? $0["kept"]?.get())?.isDirectory } == true)
        kept.cancel()  // after its answer: nothing
        #expect(answers.withLock { $0.count } == 2)
        #expect(!fileSystem.lookupMayWait(in: root))
    }

    @Test func aWaitingLookupEndsAtItsLimit() {
        let fileSystem = pending(wait: .milliseconds(20))
        let done = DispatchSemaphore(value: 0)
        let answer = Mutex<Result<FSAttributes, FSError>?>(nil)
        _ = fileSystem.lookupWhenReady(parent: root, name: "late") { result in
            answer.withLock { $0 = result }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + .seconds(10)) == .success)
        #expect(answer.withLock { $0.map { if case .failure(.notFound) = $0 { true } else { false } } } == true)
    }
}
