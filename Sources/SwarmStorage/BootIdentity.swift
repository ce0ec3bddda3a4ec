import Glibc

/// Which boot of the machine this is (Linux `/proc/sys/kernel/random/boot_id`).
///
/// Data written with `pwrite` lives in the kernel's page cache until writeback, so it survives the
/// death of our process (a crash, `kill -9`) but not the kernel's (power loss, panic). A resume
/// record may therefore claim pieces that were never synced as long as it is read during the same
/// boot: that is what lets a download or an unmount end without syncing gigabytes first.
public enum BootIdentity {
    /// The 36-character boot id, or empty when it cannot be read (then nothing unsynced is trusted).
    public static let current: [UInt8] = read()

    /// Length of a boot id as stored in a resume record.
    static let length = 36

    private static func read() -> [UInt8] {
        let fd = PosixIO.open("/proc/sys/kernel/random/boot_id", O_RDONLY)
        if fd < 0 { return [] }
        defer { Glibc.close(fd) }
        var bytes = [UInt8](repeating: 0, count: length + 1)
        let (got, code) = bytes.withUnsafeMutableBytes { PosixIO.readFully(fd, $0, at: 0) }
        guard code == 0, got >= length else { return [] }
        let id = Array(bytes[0..<length])
        // 8-4-4-4-12 hex digits: anything else is not a boot id we can compare.
        let valid = id.enumerated().allSatisfy { index, byte in
            [8, 13, 18, 23].contains(index) ? byte == UInt8(ascii: "-")
                : (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }
        return valid ? id : []
    }
}
