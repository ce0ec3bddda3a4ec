import CFuse3
import Dispatch
import Logging
import SwarmFS

#if canImport(Glibc)
import Glibc
#endif

/// How to mount.
public struct FuseMountOptions: Sendable {
    /// Where to mount (an existing, empty directory).
    public var mountpoint: String
    /// The source shown by mount(8) (e.g. the .torrent path).
    public var fsName: String
    /// Extra `-o` options for libfuse and the kernel (e.g. "allow_other"), one per element.
    public var fuseOptions: [String] = []
    /// Most FUSE worker threads; reads never park one, so few suffice.
    public var maxThreads: UInt32 = 16
    /// Kernel readahead for the mount, set after mounting (0 leaves the default).
    public var readAheadKB: Int = Self.largestSplicedRead / 1024
    /// Replies up to this size are spliced from the cache file into /dev/fuse. libfuse splices
    /// through a pipe that must hold the reply plus its header, and pipes cannot outgrow
    /// /proc/sys/fs/pipe-max-size (1 MiB by default): a 1 MiB read falls back to a malloc'd buffer,
    /// two copies and a page fault per 4 KiB (measured: 2.25 s of daemon CPU per GiB served from
    /// the cache at 1 MiB reads). Reads and readahead are capped here (`max_read`).
    public static let largestSplicedRead = 512 * 1024
    /// libfuse's debug output on stderr.
    public var debug = false

    public init(mountpoint: String, fsName: String) {
        self.mountpoint = mountpoint
        self.fsName = fsName
    }

    /// The largest read the kernel sends: the user's `-o max_read=N` if given (the last one wins),
    /// else `largestSplicedRead`.
    public var maxRead: Int {
        for option in fuseOptions.reversed() where option.hasPrefix("max_read=") {
            if let value = Int(option.dropFirst("max_read=".count)), value > 0 { return value }
        }
        return Self.largestSplicedRead
    }

    /// The options handed to libfuse: read-only, kernel permission checks, our name and type, and
    /// exactly one `max_read` (libfuse refuses a session whose `init` disagrees with it).
    public var libfuseOptions: [String] {
        let safeName = fsName.contains(",") || fsName.contains("\\") || fsName.isEmpty ? "swarmfs" : fsName
        return ["ro", "default_permissions", "fsname=\(safeName)", "subtype=swarmfs", "max_read=\(maxRead)"]
            + fuseOptions.filter { !$0.hasPrefix("max_read=") }
    }
}

/// A mounted swarmfs: a libfuse low-level session on the multithreaded loop.
///
/// Lifecycle: `init` mounts; `run` serves until unmounted (fusermount3 -u, `swarmfs unmount`)
/// or SIGINT/SIGTERM/SIGHUP; `close` answers every read still waiting, unmounts and frees the
/// session. Not thread-safe: one thread drives it.
public final class FuseMount {
    public let options: FuseMountOptions
    public let fileSystem: any MountedFileSystem
    private let bridge: FuseBridge
    /// Tells the kernel of tree changes; `changeNotifier` hands it out.
    private var notifier: KernelNotifier?
    private let retainedBridge: Unmanaged<FuseBridge>
    private var session: OpaquePointer?
    private var mounted = false
    private let logger: Logger

    /// Creates the session and mounts it. Nothing is served until `run`.
    public init(fileSystem: any MountedFileSystem, options: FuseMountOptions, logger: Logger) throws(FuseError) {
        self.options = options
        self.fileSystem = fileSystem
        self.logger = logger
        bridge = FuseBridge(fileSystem: fileSystem, logger: logger, maxRead: UInt32(clamping: options.maxRead))
        retainedBridge = Unmanaged.passRetained(bridge)

        var arguments = ["swarmfs", "-o", options.libfuseOptions.joined(separator: ",")]
        if options.debug { arguments.append("-d") }
        var args = swarmfs_make_args(0, nil)
        for argument in arguments { fuse_opt_add_arg(&args, argument) }
        var operations = FuseOperations.make()
        let created = fuse_session_new(&args, &operations, MemoryLayout<fuse_lowlevel_ops>.size,
                                       retainedBridge.toOpaque())
        fuse_opt_free_args(&args)
        guard let created else {
            retainedBridge.release()
            throw .badOptions(options.libfuseOptions)
        }
        guard fuse_session_mount(created, options.mountpoint) == 0 else {
            fuse_session_destroy(created)
            retainedBridge.release()
            throw .mountFailed(mountpoint: options.mountpoint)
        }
        session = created
        mounted = true
        notifier = KernelNotifier(session: created, logger: logger)
    }

    /// Where a filesystem whose tree changes reports those changes, so that the kernel forgets
    /// what it cached (valid until `close`; later reports are dropped).
    public var changeNotifier: any FSChangeNotifier {
        notifier ?? KernelNotifier.detached
    }

    deinit {
        close()
    }

    /// Serves requests on libfuse's worker threads until unmounted or signalled. `onReady` is
    /// called (on another thread) once the mount answers — after a `stat` of the mountpoint
    /// went through the loop — with the mount's device id, after raising its readahead.
    /// Returns the signal that ended the loop, or 0 if it was unmounted from outside.
    public func run(onReady: @escaping @Sendable (Result<String, FuseError>) -> Void) throws(FuseError) -> Int32 {
        guard let session else { throw .mountFailed(mountpoint: options.mountpoint) }
        try FuseSignals.install(for: session)
        let mountpoint = options.mountpoint
        let readAheadKB = options.readAheadKB
        let logger = self.logger
        DispatchQueue.global().async {
            guard let device = MountTuning.deviceID(of: mountpoint) else {
                onReady(.failure(.mountFailed(mountpoint: mountpoint)))
                return
            }
            if readAheadKB > 0, !MountTuning.setReadAhead(device: device, kilobytes: readAheadKB) {
                logger.debug("cannot raise read_ahead_kb", metadata: ["device": "\(device)"])
            }
            onReady(.success(device))
        }
        let status = swarmfs_session_loop_mt(session, options.maxThreads, 4)
        FuseSignals.remove()
        if status < 0 {
            logger.warning("FUSE loop ended with an error", metadata: ["errno": "\(-status)"])
        }
        return FuseSignals.received
    }

    /// Reads still waiting for data.
    public var pendingReadCount: Int { bridge.pending.count }

    /// Answers every waiting read (EIO), releases open handles, unmounts (lazily, so a busy
    /// mount goes away too) and destroys the session. Safe to call twice.
    public func close() {
        guard let session else { return }
        notifier?.detach()
        bridge.failAllPending()
        fileSystem.releaseAll()
        if mounted {
            fuse_session_unmount(session)
            mounted = false
        }
        fuse_session_destroy(session)
        self.session = nil
        retainedBridge.release()
    }
}
