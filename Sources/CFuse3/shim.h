#ifndef SWARMFS_CFUSE3_SHIM_H
#define SWARMFS_CFUSE3_SHIM_H
// libfuse's headers need <stddef.h> first and an API version before inclusion.
// 3.12 at least: below it, `fuse_session_loop_mt` is the 3.2 entry point, which reads the
// `fuse_loop_cfg_create()` config below as the old two-field struct (clone_fd = its version
// tag, max_idle_threads = 0), so every request started a worker thread with its own cloned
// /dev/fuse fd and splice pipe, and the previous worker exited (0.1-0.4 ms per request).
#include <stddef.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <signal.h>
#include <pthread.h>
#include <string.h>
#include <errno.h>
#include <sys/xattr.h>
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

// Small C helpers for what Swift cannot call directly (macros) or express cleanly
// (variable-length structs, async-signal-safe handlers).

/// Replies to a read with `len` bytes at `off` of the file descriptor `fd`, copy-free:
/// libfuse splices from the file into /dev/fuse when the kernel allows it.
static inline int swarmfs_reply_fd(fuse_req_t req, int fd, off_t off, size_t len) {
    struct fuse_bufvec bufv = FUSE_BUFVEC_INIT(len);
    bufv.buf[0].flags = (enum fuse_buf_flags)(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY);
    bufv.buf[0].fd = fd;
    bufv.buf[0].pos = off;
    return fuse_reply_data(req, &bufv, FUSE_BUF_SPLICE_MOVE);
}

/// Runs the multithreaded session loop (the `fuse_session_loop_mt` macro) with at most
/// `max_threads` worker threads of which `max_idle` may stay idle.
static inline int swarmfs_session_loop_mt(struct fuse_session *se, unsigned max_threads,
                                          unsigned max_idle) {
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    if (config == NULL) return -ENOMEM;
    fuse_loop_cfg_set_clone_fd(config, 0);
    fuse_loop_cfg_set_max_threads(config, max_threads);
    fuse_loop_cfg_set_idle_threads(config, max_idle);
    int result = fuse_session_loop_mt(se, config);
    fuse_loop_cfg_destroy(config);
    return result;
}

/// Sets the connection parameters the read path wants (called from `init`).
static inline void swarmfs_tune_connection(struct fuse_conn_info *conn, unsigned max_background,
                                           unsigned congestion_threshold, unsigned max_read) {
    // Must equal the max_read mount option, or libfuse refuses the session.
    conn->max_read = max_read;
    // max_readahead stays at the kernel's offer: init cannot raise it (the bdi's read_ahead_kb
    // is raised after mounting instead).
    conn->max_background = max_background;
    conn->congestion_threshold = congestion_threshold;
    if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE;
    if (conn->capable & FUSE_CAP_SPLICE_MOVE) conn->want |= FUSE_CAP_SPLICE_MOVE;
    if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
    // Asynchronous direct I/O waits uninterruptibly in the kernel: a killed O_DIRECT reader
    // would hang until the data came. Synchronous requests get FUSE_INTERRUPT instead.
    conn->want &= ~FUSE_CAP_ASYNC_DIO;
    // Our inodes never change behind the kernel's back.
    conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
}

/// A `fuse_args` built from `argc/argv` (the FUSE_ARGS_INIT macro).
static inline struct fuse_args swarmfs_make_args(int argc, char **argv) {
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    return args;
}

/// Sets `direct_io = 0`, `keep_cache` as given on an open reply (bitfields are awkward in Swift).
static inline void swarmfs_set_open_flags(struct fuse_file_info *fi, int keep_cache) {
    fi->direct_io = 0;
    fi->keep_cache = keep_cache ? 1 : 0;
    fi->noflush = 1;
}

/// Sets `cache_readdir`/`keep_cache` on an opendir reply: on for listings that never change,
/// off for one that does (a library's root).
static inline void swarmfs_set_opendir_flags(struct fuse_file_info *fi, int cache) {
    fi->cache_readdir = cache ? 1 : 0;
    fi->keep_cache = cache ? 1 : 0;
}

#endif
