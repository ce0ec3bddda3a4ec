import Glibc

/// What `fstat` says about a file's identity and content version: which inode it is, its size,
/// and its modification and change times (ctime moves on every write and cannot be set back by
/// `touch`). Two equal identities mean, as far as the kernel tells, the same bytes.
public struct FileIdentity: Sendable, Equatable {
    public let device: UInt64
    public let inode: UInt64
    public let size: Int64
    public let modificationNanoseconds: Int64
    public let changeNanoseconds: Int64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modificationNanoseconds = info.modificationNanoseconds
        changeNanoseconds = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
    }
}
