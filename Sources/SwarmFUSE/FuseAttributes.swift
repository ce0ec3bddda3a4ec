import CFuse3
import SwarmFS

#if canImport(Glibc)
import Glibc
#endif

/// Conversions from the filesystem's attributes to the C structures libfuse replies with.
enum FuseAttributes {
    /// How long the kernel may cache attributes and entries: the tree never changes while
    /// mounted, so a day.
    static let timeout: Double = 86_400
    /// The same for a directory whose entries change (a library's root): the kernel is told of
    /// each change, and this bounds what a lookup answered during one may leave behind.
    static let changingTimeout: Double = 1

    static func stat(_ attributes: FSAttributes) -> stat {
        var result = Glibc.stat()
        result.st_ino = numericCast(attributes.inode)
        result.st_mode = attributes.mode
        result.st_nlink = numericCast(attributes.linkCount)
        result.st_uid = attributes.uid
        result.st_gid = attributes.gid
        result.st_size = numericCast(attributes.size)
        result.st_blocks = numericCast(attributes.blocks)
        result.st_blksize = numericCast(attributes.blockSize)
        let time = timespec(tv_sec: numericCast(attributes.time), tv_nsec: 0)
        result.st_atim = time
        result.st_mtim = time
        result.st_ctim = time
        return result
    }

    /// An entry reply. Generation 1 always: inode numbers are never reused within a mount.
    static func entry(_ attributes: FSAttributes, entryTimeout: Double = timeout) -> fuse_entry_param {
        var entry = fuse_entry_param()
        entry.ino = attributes.inode
        entry.generation = 1
        entry.attr = stat(attributes)
        entry.attr_timeout = timeout
        entry.entry_timeout = entryTimeout
        return entry
    }
}
