import CFuse3

#if canImport(Glibc)
import Glibc
#endif

// The C entry points of the low-level API. They live here, not in an executable's main.swift
// (where `@convention(c)` closures crash at run time), and only decode arguments and forward to
// the mount's `FuseBridge`.

/// The bridge of the session that `req` belongs to.
private func bridge(_ req: fuse_req_t?) -> (fuse_req_t, FuseBridge)? {
    guard let req, let userdata = fuse_req_userdata(req) else { return nil }
    return (req, Unmanaged<FuseBridge>.fromOpaque(userdata).takeUnretainedValue())
}

private func readOnly(_ req: fuse_req_t?) {
    if let req { fuse_reply_err(req, EROFS) }
}

enum FuseOperations {
    /// The operation table: read-only operations forward to the bridge, every operation that
    /// would write answers EROFS.
    static func make() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { userdata, conn in
            guard let userdata, let conn else { return }
            let bridge = Unmanaged<FuseBridge>.fromOpaque(userdata).takeUnretainedValue()
            swarmfs_tune_connection(conn, bridge.maxBackground, bridge.congestionThreshold, bridge.maxRead)
        }
        ops.lookup = { req, parent, name in
            guard let (req, bridge) = bridge(req) else { return }
            guard let name else { fuse_reply_err(req, EINVAL); return }
            bridge.lookup(req, parent: parent, name: String(cString: name))
        }
        ops.forget = { req, _, _ in
            // Inodes live as long as the mount: nothing to forget.
            if let req { fuse_reply_none(req) }
        }
        ops.forget_multi = { req, _, _ in
            if let req { fuse_reply_none(req) }
        }
        ops.getattr = { req, inode, _ in
            guard let (req, bridge) = bridge(req) else { return }
            bridge.getattr(req, inode: inode)
        }
        ops.readdir = { req, inode, size, offset, _ in
            guard let (req, bridge) = bridge(req) else { return }
            bridge.readdir(req, inode: inode, size: size, offset: Int64(offset), plus: false)
        }
        ops.readdirplus = { req, inode, size, offset, _ in
            guard let (req, bridge) = bridge(req) else { return }
            bridge.readdir(req, inode: inode, size: size, offset: Int64(offset), plus: true)
        }
        ops.opendir = { req, inode, info in
            guard let (req, bridge) = bridge(req) else { return }
            guard let info else { fuse_reply_err(req, EINVAL); return }
            bridge.opendir(req, inode: inode, info: info)
        }
        ops.releasedir = { req, _, _ in
            if let req { fuse_reply_err(req, 0) }
        }
        ops.open = { req, inode, info in
            guard let (req, bridge) = bridge(req) else { return }
            guard let info else { fuse_reply_err(req, EINVAL); return }
            bridge.open(req, inode: inode, info: info)
        }
        ops.read = { req, _, size, offset, info in
            guard let (req, bridge) = bridge(req) else { return }
            guard let info else { fuse_reply_err(req, EBADF); return }
            bridge.read(req, handle: info.pointee.fh, size: size, offset: Int64(offset))
        }
        ops.release = { req, _, info in
            guard let (req, bridge) = bridge(req) else { return }
            guard let info else { fuse_reply_err(req, 0); return }
            bridge.release(req, handle: info.pointee.fh)
        }
        ops.flush = { req, _, _ in
            if let req { fuse_reply_err(req, 0) }
        }
        ops.statfs = { req, _ in
            guard let (req, bridge) = bridge(req) else { return }
            bridge.statfs(req)
        }
        ops.getxattr = { req, inode, name, size in
            guard let (req, bridge) = bridge(req) else { return }
            guard let name else { fuse_reply_err(req, EINVAL); return }
            bridge.getxattr(req, inode: inode, name: String(cString: name), size: size)
        }
        ops.listxattr = { req, inode, size in
            guard let (req, bridge) = bridge(req) else { return }
            bridge.listxattr(req, inode: inode, size: size)
        }
        ops.access = { req, inode, mask in
            guard let (req, bridge) = bridge(req) else { return }
            bridge.access(req, inode: inode, mask: mask)
        }
        // Everything that writes.
        ops.setattr = { req, _, _, _, _ in readOnly(req) }
        ops.mknod = { req, _, _, _, _ in readOnly(req) }
        ops.mkdir = { req, _, _, _ in readOnly(req) }
        ops.unlink = { req, _, _ in readOnly(req) }
        ops.rmdir = { req, _, _ in readOnly(req) }
        ops.symlink = { req, _, _, _ in readOnly(req) }
        ops.rename = { req, _, _, _, _, _ in readOnly(req) }
        ops.link = { req, _, _, _ in readOnly(req) }
        ops.write = { req, _, _, _, _, _ in readOnly(req) }
        ops.write_buf = { req, _, _, _, _ in readOnly(req) }
        ops.setxattr = { req, _, _, _, _, _ in readOnly(req) }
        ops.removexattr = { req, _, _ in readOnly(req) }
        ops.create = { req, _, _, _, _ in readOnly(req) }
        ops.fallocate = { req, _, _, _, _, _ in readOnly(req) }
        ops.copy_file_range = { req, _, _, _, _, _, _, _, _ in readOnly(req) }
        ops.fsync = { req, _, _, _ in
            if let req { fuse_reply_err(req, 0) }
        }
        ops.fsyncdir = { req, _, _, _ in
            if let req { fuse_reply_err(req, 0) }
        }
        return ops
    }
}
