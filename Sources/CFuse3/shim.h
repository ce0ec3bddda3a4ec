#ifndef SWARMFS_CFUSE3_SHIM_H
#define SWARMFS_CFUSE3_SHIM_H
// libfuse's headers need <stddef.h> first and an API version before inclusion.
#include <stddef.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <signal.h>
#include <pthread.h>
#include <string.h>
#include <errno.h>
#include <sys/xattr.h>
#define FUSE_USE_VERSION 35
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

// The session and thread that SIGINT/SIGTERM/SIGHUP end. libfuse's own handlers only set the
// exit flag; when the signal lands on a thread that is not blocked in the loop (a Swift runtime
// or NIO thread), nothing wakes the loop. Ours forwards the signal to the loop thread, whose
// `sem_wait` then returns EINTR and sees the flag.
static struct fuse_session *swarmfs_signal_session = NULL;
static pthread_t swarmfs_signal_loop_thread;
static volatile sig_atomic_t swarmfs_signal_received = 0;

static void swarmfs_signal_handler(int sig) {
    swarmfs_signal_received = sig;
    if (swarmfs_signal_session != NULL) fuse_session_exit(swarmfs_signal_session);
    if (!pthread_equal(pthread_self(), swarmfs_signal_loop_thread)) {
        pthread_kill(swarmfs_signal_loop_thread, sig);
    }
}

/// Installs the exit handlers for `se`, to run the loop on the calling thread. SIGPIPE is ignored
/// (a reply to a vanished mount must not kill us).
static inline int swarmfs_install_signal_handlers(struct fuse_session *se) {
    swarmfs_signal_session = se;
    swarmfs_signal_loop_thread = pthread_self();
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = swarmfs_signal_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: the loop thread must see EINTR
    if (sigaction(SIGINT, &action, NULL) != 0) return -errno;
    if (sigaction(SIGTERM, &action, NULL) != 0) return -errno;
    if (sigaction(SIGHUP, &action, NULL) != 0) return -errno;
    struct sigaction ignore;
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    if (sigaction(SIGPIPE, &ignore, NULL) != 0) return -errno;
    // A background shell may have started us with SIGINT blocked or ignored; make sure the
    // loop thread receives the exit signals.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return 0;
}

/// Restores default dispositions and forgets the session.
static inline void swarmfs_remove_signal_handlers(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    swarmfs_signal_session = NULL;
}

/// The signal that ended the loop, or 0.
static inline int swarmfs_received_signal(void) { return swarmfs_signal_received; }

/// Sets the connection parameters the read path wants (called from `init`).
static inline void swarmfs_tune_connection(struct fuse_conn_info *conn, unsigned max_background,
                                           unsigned congestion_threshold) {
    // max_readahead stays at the kernel's offer: init cannot raise it (the bdi's read_ahead_kb
    // is raised after mounting instead).
    conn->max_background = max_background;
    conn->congestion_threshold = congestion_threshold;
    if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE;
    if (conn->capable & FUSE_CAP_SPLICE_MOVE) conn->want |= FUSE_CAP_SPLICE_MOVE;
    if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
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

/// Sets `cache_readdir`/`keep_cache` on an opendir reply: listings never change.
static inline void swarmfs_set_opendir_flags(struct fuse_file_info *fi) {
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
}

#endif
