import CFuse3

// All calls into the shim's signal state are in this one file: the shim's static variables
// exist once per object file that uses them.

enum FuseSignals {
    /// Makes SIGINT, SIGTERM and SIGHUP end `session`'s loop running on the calling thread.
    static func install(for session: OpaquePointer) throws(FuseError) {
        let status = swarmfs_install_signal_handlers(session)
        if status != 0 { throw .signalHandlers(errno: -status) }
    }

    /// Restores the default dispositions.
    static func remove() {
        swarmfs_remove_signal_handlers()
    }

    /// The signal that ended the loop, or 0 (unmounted from outside).
    static var received: Int32 { swarmfs_received_signal() }
}
