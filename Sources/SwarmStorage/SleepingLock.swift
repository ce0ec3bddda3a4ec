import Glibc

/// A plain `pthread_mutex_t`: a waiter sleeps in the kernel at once.
///
/// For locks held across a long system call. `Synchronization.Mutex` is a priority-inheritance
/// futex on Linux, and the kernel spins a waiter on the CPU for as long as the owner runs; the
/// owner of the write lock spends ~0.5 ms copying a piece into the page cache, so spinning
/// burns a core the event loop and the hasher need.
final class SleepingLock: @unchecked Sendable {
    // Heap-allocated so the mutex never moves (pthread mutexes must not be copied).
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() {
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the lock held.
    func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
