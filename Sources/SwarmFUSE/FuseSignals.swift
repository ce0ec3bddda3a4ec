import CFuse3
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// SIGINT/SIGTERM/SIGHUP end the session loop. libfuse's own handlers only set the exit flag;
// when the signal lands on a thread that is not blocked in the loop (a Swift runtime or NIO
// thread), nothing wakes the loop. Ours also forwards the signal to the loop thread, whose
// `sem_wait` then returns EINTR and sees the flag. The state is in atomics (async-signal-safe
// loads); they are touched before the handler is installed so their lazy initialisation never
// runs inside it.
private let signalSession = Atomic<UInt>(0)
private let signalLoopThread = Atomic<UInt>(0)
private let receivedSignal = Atomic<Int32>(0)

private func handleExitSignal(_ signal: Int32) {
    receivedSignal.store(signal, ordering: .relaxed)
    if let session = OpaquePointer(bitPattern: signalSession.load(ordering: .acquiring)) {
        fuse_session_exit(session)
    }
    let loopThread = pthread_t(signalLoopThread.load(ordering: .acquiring))
    if loopThread != 0, pthread_equal(pthread_self(), loopThread) == 0 {
        pthread_kill(loopThread, signal)
    }
}

enum FuseSignals {
    static let exitSignals = [SIGINT, SIGTERM, SIGHUP]

    /// Makes SIGINT, SIGTERM and SIGHUP end `session`'s loop, which runs on the calling thread.
    /// SIGPIPE is ignored: a reply to a vanished mount must not kill us. A background shell may
    /// have started us with these signals ignored or blocked; both are undone.
    static func install(for session: OpaquePointer) throws(FuseError) {
        receivedSignal.store(0, ordering: .relaxed)
        signalLoopThread.store(UInt(pthread_self()), ordering: .releasing)
        signalSession.store(UInt(bitPattern: session), ordering: .releasing)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handleExitSignal
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0 // no SA_RESTART: the loop thread must see EINTR
        var blocked = sigset_t()
        sigemptyset(&blocked)
        for signal in exitSignals {
            if sigaction(signal, &action, nil) != 0 { throw .signalHandlers(errno: errno) }
            sigaddset(&blocked, signal)
        }
        pthread_sigmask(SIG_UNBLOCK, &blocked, nil)
        Glibc.signal(SIGPIPE, SIG_IGN)
    }

    /// Restores the default dispositions and forgets the session.
    static func remove() {
        for signal in exitSignals { Glibc.signal(signal, SIG_DFL) }
        signalSession.store(0, ordering: .releasing)
        signalLoopThread.store(0, ordering: .releasing)
    }

    /// The signal that ended the loop, or 0 (unmounted from outside).
    static var received: Int32 { receivedSignal.load(ordering: .relaxed) }
}
