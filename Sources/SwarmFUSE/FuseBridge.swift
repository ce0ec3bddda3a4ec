import CFuse3
import Dispatch
import Logging
import SwarmContent
import SwarmFS

#if canImport(Glibc)
import Glibc
#endif

/// The Swift side of the low-level FUSE operations: one per mount, reached from the C callbacks
/// through the session's userdata. Every method replies to its request exactly once; reads
/// reply later, from whichever thread completes them.
final class FuseBridge: Sendable {
    let fileSystem: any MountedFileSystem
    let pending = PendingReads()
    let logger: Logger
    /// FUSE `max_background` and `congestion_threshold` (libfuse's defaults of 12 cap page-cache
    /// throughput).
    let maxBackground: UInt32 = 128
    let congestionThreshold: UInt32 = 96
    /// The mount's `max_read`, which `init` must repeat to libfuse.
    let maxRead: UInt32

    init(fileSystem: any MountedFileSystem, logger: Logger, maxRead: UInt32) {
        self.fileSystem = fileSystem
        self.logger = logger
        self.maxRead = maxRead
    }

    // MARK: Metadata

    /// How long the kernel may keep entries of `directory` (and negative lookups in it).
    private func entryTimeout(in directory: UInt64) -> Double {
        fileSystem.entriesMayChange(in: directory) ? FuseAttributes.changingTimeout : FuseAttributes.timeout
    }

    func lookup(_ req: fuse_req_t, parent: UInt64, name: String) {
        guard fileSystem.lookupMayWait(in: parent) else {
            let result = Result { () throws(FSError) in try fileSystem.lookup(parent: parent, name: name) }
            return replyEntry(req, parent: parent, result)
        }
        // A lookup that waits (a magnet's root before its metadata) is held like a read: no
        // thread parked, answered by its completion, interruptible.
        guard let id = pending.register(FuseRequest(raw: req)) else {
            fuse_reply_err(req, EIO)
            return
        }
        fuse_req_interrupt_func(req, fuseInterruptCallback, UnsafeMutableRawPointer(bitPattern: UInt(id)))
        let ticket = fileSystem.lookupWhenReady(parent: parent, name: name) { [self] result in
            guard let request = pending.claim(id) else { return }
            replyEntry(request.raw, parent: parent, result)
            pending.replied()
        }
        if pending.attach(ticket, to: id) { ticket.cancel() }
    }

    private func replyEntry(_ req: fuse_req_t, parent: UInt64, _ result: Result<FSAttributes, FSError>) {
        switch result {
        case let .success(attributes):
            var entry = FuseAttributes.entry(attributes, entryTimeout: entryTimeout(in: parent))
            fuse_reply_entry(req, &entry)
        case let .failure(error) where error.errno == ENOENT:
            // A negative entry the kernel may cache too: for as long as the tree cannot change
            // (briefly in a library's root, which also tells the kernel when a name appears).
            var negative = fuse_entry_param()
            negative.entry_timeout = entryTimeout(in: parent)
            fuse_reply_entry(req, &negative)
        case let .failure(error):
            fuse_reply_err(req, error.errno)
        }
    }

    func getattr(_ req: fuse_req_t, inode: UInt64) {
        do {
            var attributes = FuseAttributes.stat(try fileSystem.attributes(of: inode))
            fuse_reply_attr(req, &attributes, entryTimeout(in: inode))
        } catch {
            fuse_reply_err(req, error.errno)
        }
    }

    func readdir(_ req: fuse_req_t, inode: UInt64, size: Int, offset: Int64, plus: Bool) {
        // Recent kernels ask for up to 1 MiB per call. The buffer is left uninitialised: only
        // the bytes the entries fill are touched (zeroing all of it cost more than the listing).
        let capacity = max(0, min(size, 1 << 20))
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, capacity))
        defer { buffer.deallocate() }
        var used = 0
        var next = offset
        let childTimeout = plus ? entryTimeout(in: inode) : 0
        do {
            while let entry = try fileSystem.directoryEntry(of: inode, at: next) {
                let start = buffer + used
                let remaining = capacity - used
                let needed: Int
                if plus {
                    var param = fuse_entry_param()
                    if entry.name != "." && entry.name != "..",
                       let attributes = try? fileSystem.attributes(of: entry.inode) {
                        param = FuseAttributes.entry(attributes, entryTimeout: childTimeout)
                    } else {
                        param.attr.st_ino = numericCast(entry.inode)
                        param.attr.st_mode = FSAttributes.directoryType
                    }
                    needed = fuse_add_direntry_plus(req, start, remaining, entry.name, &param,
                                                    off_t(entry.nextOffset))
                } else {
                    var attributes = Glibc.stat()
                    attributes.st_ino = numericCast(entry.inode)
                    attributes.st_mode = entry.isDirectory ? FSAttributes.directoryType : FSAttributes.regularFileType
                    needed = fuse_add_direntry(req, start, remaining, entry.name, &attributes,
                                               off_t(entry.nextOffset))
                }
                if needed > remaining { break }
                used += needed
                next = entry.nextOffset
            }
            fuse_reply_buf(req, buffer, used)
        } catch {
            fuse_reply_err(req, error.errno)
        }
    }

    func statfs(_ req: fuse_req_t) {
        let numbers = fileSystem.statistics()
        var result = statvfs()
        result.f_bsize = numericCast(numbers.blockSize)
        result.f_frsize = numericCast(numbers.blockSize)
        result.f_blocks = numericCast(numbers.blocks)
        result.f_files = numericCast(numbers.files)
        result.f_namemax = numericCast(numbers.nameMax)
        result.f_flag = numericCast(ST_RDONLY)
        fuse_reply_statfs(req, &result)
    }

    func getxattr(_ req: fuse_req_t, inode: UInt64, name: String, size: Int) {
        do {
            let value = try fileSystem.attribute(name, of: inode)
            replyXattr(req, bytes: value, size: size)
        } catch {
            fuse_reply_err(req, error.errno)
        }
    }

    func listxattr(_ req: fuse_req_t, inode: UInt64, size: Int) {
        do {
            var bytes: [UInt8] = []
            for name in try fileSystem.attributeNames(of: inode) {
                bytes += Array(name.utf8)
                bytes.append(0)
            }
            replyXattr(req, bytes: bytes, size: size)
        } catch {
            fuse_reply_err(req, error.errno)
        }
    }

    /// size 0 asks for the length; a too-small buffer gets ERANGE.
    private func replyXattr(_ req: fuse_req_t, bytes: [UInt8], size: Int) {
        if size == 0 {
            fuse_reply_xattr(req, bytes.count)
        } else if size < bytes.count {
            fuse_reply_err(req, ERANGE)
        } else {
            bytes.withUnsafeBufferPointer { raw in _ = fuse_reply_buf(req, raw.baseAddress, raw.count) }
        }
    }

    func access(_ req: fuse_req_t, inode: UInt64, mask: Int32) {
        do {
            try fileSystem.checkAccess(inode, mask: mask)
            fuse_reply_err(req, 0)
        } catch {
            fuse_reply_err(req, error.errno)
        }
    }

    // MARK: Files

    func open(_ req: fuse_req_t, inode: UInt64, info: UnsafeMutablePointer<fuse_file_info>) {
        do {
            let (handle, keepCache) = try fileSystem.open(inode, flags: info.pointee.flags)
            info.pointee.fh = handle
            swarmfs_set_open_flags(info, keepCache ? 1 : 0)
            if fuse_reply_open(req, info) != 0 {
                // The opener went away (interrupted): the kernel will never release this handle.
                fileSystem.release(handle)
            }
        } catch {
            fuse_reply_err(req, error.errno)
        }
    }

    func release(_ req: fuse_req_t, handle: UInt64) {
        fileSystem.release(handle)
        fuse_reply_err(req, 0)
    }

    func opendir(_ req: fuse_req_t, inode: UInt64, info: UnsafeMutablePointer<fuse_file_info>) {
        do {
            try fileSystem.checkDirectory(inode)
        } catch {
            fuse_reply_err(req, error.errno)
            return
        }
        if info.pointee.flags & O_ACCMODE != O_RDONLY { fuse_reply_err(req, EROFS); return }
        swarmfs_set_opendir_flags(info, fileSystem.entriesMayChange(in: inode) ? 0 : 1)
        fuse_reply_open(req, info)
    }

    /// Hands the read to the source and returns at once; the reply comes from the completion.
    func read(_ req: fuse_req_t, handle: UInt64, size: Int, offset: Int64) {
        guard let id = pending.register(FuseRequest(raw: req)) else {
            fuse_reply_err(req, EIO)
            return
        }
        // Registered before the read starts: afterwards the request may already be gone.
        fuse_req_interrupt_func(req, fuseInterruptCallback, UnsafeMutableRawPointer(bitPattern: UInt(id)))
        do {
            let ticket = try fileSystem.read(handle, offset: offset, size: size) { [self] result in
                complete(id, with: result)
            }
            if pending.attach(ticket, to: id) { ticket.cancel() }
        } catch {
            fail(id, errno: error.errno)
        }
    }

    /// Replies to read `id` with its outcome, unless someone already did.
    func complete(_ id: UInt64, with result: Result<ReadableSpan, ContentReadError>) {
        guard let request = pending.claim(id) else { return }
        defer { pending.replied() }
        switch result {
        case let .success(span) where span.length == 0:
            fuse_reply_buf(request.raw, nil, 0)
        case let .success(span) where span.memory != nil:
            // Valid only during this call: fuse_reply_buf copies it into the kernel at once.
            let memory = span.memory!
            let status = fuse_reply_buf(request.raw, memory.baseAddress?.assumingMemoryBound(to: CChar.self), memory.count)
            if status != 0 {
                logger.debug("read reply failed", metadata: ["errno": "\(-status)"])
            }
        case let .success(span):
            let status = swarmfs_reply_fd(request.raw, span.fd, off_t(span.offset), span.length)
            if status != 0 {
                logger.debug("read reply failed", metadata: ["errno": "\(-status)"])
            }
        case let .failure(error):
            if error != .cancelled {
                logger.debug("read failed", metadata: ["error": "\(error)"])
            }
            fuse_reply_err(request.raw, error.errno)
        }
    }

    private func fail(_ id: UInt64, errno code: Int32) {
        guard let request = pending.claim(id) else { return }
        fuse_reply_err(request.raw, code)
        pending.replied()
    }

    /// The kernel interrupted read (or waiting lookup) `id` (its caller got a signal): cancel it,
    /// so the completion replies EINTR. Runs off the interrupt callback, which must not reply itself.
    func interrupt(_ id: UInt64) {
        pending.interrupt(id)?.cancel()
    }

    /// Answers every waiting read with EIO and waits until replies in flight are sent: after
    /// this, no request of the session is touched again.
    func failAllPending() {
        let waiting = pending.close()
        for (request, _) in waiting { fuse_reply_err(request.raw, EIO) }
        pending.replied(count: waiting.count)
        for (_, ticket) in waiting { ticket?.cancel() }
        if !pending.waitForReplies(milliseconds: 2000) {
            logger.warning("a read reply was still in progress at shutdown")
        }
    }
}

/// libfuse's interrupt callback. It may run inside `fuse_req_interrupt_func` with the request's
/// lock held, where replying would free the request under libfuse's feet; so it only schedules
/// the cancellation. `data` is the read's registry id, not a pointer: the registry entry may be
/// gone by now.
private func fuseInterruptCallback(_ req: fuse_req_t?, _ data: UnsafeMutableRawPointer?) {
    guard let req, let userdata = fuse_req_userdata(req) else { return }
    let bridge = Unmanaged<FuseBridge>.fromOpaque(userdata).takeUnretainedValue()
    let id = UInt64(UInt(bitPattern: data))
    DispatchQueue.global().async { bridge.interrupt(id) }
}
