import ArgumentParser
import Foundation
import SwarmFUSE

/// `swarmfs unmount MOUNTPOINT`: unmounts and waits for the daemon to exit.
///
/// A busy mount (a reader still has a file open) cannot be unmounted by `fusermount3 -u`; then
/// the daemon is asked to stop with SIGTERM, which fails waiting reads and detaches the mount.
struct UnmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmount",
        abstract: "Unmount a swarmfs mount and wait for its daemon to exit.")

    @Argument(help: "The mountpoint.")
    var mountpoint: String

    @Option(name: .long, help: "Seconds to wait for the daemon to exit.")
    var timeout: Double = 10

    func run() throws {
        let path = PathTools.absolute(mountpoint)
        let daemons = DaemonLocator.daemons(servingMountpoint: path)
        let mount = MountTable.mount(at: path)
        guard mount != nil || !daemons.isEmpty else {
            throw MountFailure(exitCode: 1, message: "\(path) is not mounted").exit()
        }
        if let mount, mount.type != "fuse.swarmfs", daemons.isEmpty {
            throw MountFailure(exitCode: 1, message: "\(path) is a \(mount.type) mount, not swarmfs").exit()
        }
        let milliseconds = Int(clamping: DisplayFigures.clampedInt64(max(0.1, timeout) * 1000))
        if mount != nil, ProcessTools.run(["fusermount3", "-u", path]) != 0 {
            if daemons.isEmpty {
                // Nobody serves it (a dead daemon): detach it.
                MountpointCheck.clearStale(path)
            } else {
                for pid in daemons { kill(pid, SIGTERM) }
            }
        } else if mount == nil {
            for pid in daemons { kill(pid, SIGTERM) }
        }
        for pid in daemons where !ProcessTools.waitForExit(pid, milliseconds: milliseconds) {
            throw MountFailure(exitCode: 1, message: "the swarmfs daemon (pid \(pid)) did not exit").exit()
        }
        var waited = 0
        while MountpointCheck.isMounted(path), waited < milliseconds {
            usleep(10_000)
            waited += 10
        }
        if MountpointCheck.isMounted(path) {
            throw MountFailure(exitCode: 1, message: "\(path) is still mounted").exit()
        }
    }
}
