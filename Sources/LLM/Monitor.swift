#if canImport(Glibc)
import Glibc
#endif

/// A mutex with one condition: a worker thread waits for work that another thread hands it.
final class Monitor: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// With the lock held: releases it until `signal()`, then holds it again. Wakes spuriously
    /// too, so call it in a loop that checks the awaited condition.
    func wait() {
        pthread_cond_wait(condition, mutex)
    }

    /// Wakes the waiting thread. Call it with the lock held, after changing what it waits for.
    func signal() {
        pthread_cond_broadcast(condition)
    }
}
