import CFuse3

/// A `fuse_req_t` that crosses threads. libfuse requests are safe to reply to from any thread;
/// the pointer is only ever used by whoever claimed it from `PendingReads` (exactly once).
struct FuseRequest: @unchecked Sendable {
    let raw: fuse_req_t
}
