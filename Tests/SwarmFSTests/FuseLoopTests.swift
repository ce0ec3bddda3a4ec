import Dispatch
import Foundation
import Logging
import SwarmContent
import SwarmFS
import Synchronization
import Testing
@testable import SwarmFUSE

#if canImport(Glibc)
import Glibc
#endif

/// Why the in-process mount failed, set from its thread.
final class LoopFailure: Sendable {
    private let state = Mutex<String?>(nil)
    func record(_ message: String) { state.withLock { $0 = message } }
    var message: String? { state.withLock { $0 } }
}

/// Mounts a small tree in this process (needs root, /dev/fuse and fusermount3) and checks how
/// libfuse's loop serves a run of lookups: with the wrong loop entry point every request started
/// a worker thread with its own cloned /dev/fuse descriptor, and the previous one exited.
@Suite(.serialized) struct FuseLoopTests {
    static let loopThreadName = "swarmfs-looptst"

    static var canMount: Bool {
        let helpers: [String] = ["/usr/bin/fusermount3", "/bin/fusermount3"]
        return getuid() == 0 && access("/dev/fuse", R_OK | W_OK) == 0
            && helpers.contains { access($0, X_OK) == 0 }
    }

    @Test(.enabled(if: FuseLoopTests.canMount))
    func lookupsReuseWorkerThreadsAndOneDeviceDescriptor() throws {
        let count = 300
        let torrent = try TestTorrent(name: "loop", files: (0..<count).map {
            TestTorrent.File(path: ["d", "f\($0)"], length: 1)
        })
        defer { torrent.remove() }
        let source = DirectoryContentSource(metainfo: torrent.metainfo, directory: torrent.directory)
        let fileSystem = SwarmFileSystem(source: source, uid: 0, gid: 0, mountTime: 1_600_000_000)
        let mountpoint = NSTemporaryDirectory() + "swarmfs-loop-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: false)
        defer { rmdir(mountpoint) }

        let ready = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let failure = LoopFailure()
        let thread = Thread {
            // libfuse's workers are cloned from this thread (and each other): they keep its name.
            Self.nameCurrentThread(Self.loopThreadName)
            do {
                let mount = try FuseMount(fileSystem: fileSystem,
                                          options: FuseMountOptions(mountpoint: mountpoint, fsName: "looptest"),
                                          logger: Logger(label: "swarmfs.test.loop"))
                _ = try mount.run { result in
                    if case let .failure(error) = result { failure.record("\(error)") }
                    ready.signal()
                }
                mount.close()
            } catch {
                failure.record("\(error)")
                ready.signal()
            }
            finished.signal()
        }
        thread.start()
        defer {
            if finished.wait(timeout: .now() + 0.001) == .timedOut {
                if ProcessTools.run(["fusermount3", "-u", mountpoint]) != 0 {
                    _ = ProcessTools.run(["fusermount3", "-u", "-z", mountpoint])
                }
                _ = finished.wait(timeout: .now() + 10)
            }
        }
        try #require(ready.wait(timeout: .now() + 10) == .success, "the mount did not come up")
        try #require(failure.message == nil, "\(failure.message ?? "")")

        func size(_ index: Int) -> Int64? {
            var info = stat()
            return stat("\(mountpoint)/loop/d/f\(index)", &info) == 0 ? Int64(info.st_size) : nil
        }
        // Warm up: the folders are known and the loop has what it starts with.
        for index in 0..<3 { #expect(size(index) == 1) }
        let before = Self.loopWorkers()
        var seen = before
        for index in 3..<count {
            #expect(size(index) == 1)       // one LOOKUP each: nothing was cached for it
            seen.formUnion(Self.loopWorkers())
        }
        let started = seen.subtracting(before)
        #expect(started.count <= 4, "\(started.count) worker threads started for \(count - 3) lookups")
        #expect(Self.fuseDeviceDescriptors() == 1, "libfuse cloned /dev/fuse per worker")
    }

    /// Names the calling thread (its `comm`, which threads it starts inherit).
    static func nameCurrentThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Thread ids of this process's threads named like the loop thread.
    static func loopWorkers() -> Set<Int> {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return Set(tasks.compactMap { tid in
            guard let name = ProcessTools.readFile("/proc/self/task/\(tid)/comm", limit: 64),
                  name.trimmingCharacters(in: .whitespacesAndNewlines) == loopThreadName else { return nil }
            return Int(tid)
        })
    }

    /// Open descriptors of this process on /dev/fuse.
    static func fuseDeviceDescriptors() -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == "/dev/fuse"
        }.count
    }
}
