#if canImport(Glibc)
import Glibc
#endif

/// Kernel-side tuning that can only happen after mounting.
enum MountTuning {
    /// The mount's backing device as "major:minor", from `stat` of the mountpoint (which goes
    /// through FUSE, so the loop must be running).
    static func deviceID(of mountpoint: String) -> String? {
        var info = stat()
        guard stat(mountpoint, &info) == 0 else { return nil }
        let device = UInt64(info.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        return "\(major):\(minor)"
    }

    /// Raises the kernel readahead of the FUSE mount with device `device` to `kilobytes`:
    /// `max_readahead` in `init` cannot exceed the default 128 KiB, the bdi setting can.
    /// Returns false when not permitted (not root) or not present.
    static func setReadAhead(device: String, kilobytes: Int) -> Bool {
        let path = "/sys/class/bdi/\(device)/read_ahead_kb"
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let text = Array("\(kilobytes)\n".utf8)
        return text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == text.count
    }
}
