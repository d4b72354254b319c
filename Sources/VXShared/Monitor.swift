#if canImport(Glibc)
import Glibc
#endif

/// A pthread mutex with a condition variable on the monotonic clock: what the
/// reader and player threads wait on. Deadlines are `SystemClock().now` values.
public final class Monitor: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Like `withLock`, but gives up and returns nil when the lock is not free
    /// within `timeout` (for a signal handler that must not hang on a stuck writer).
    public func withLock<T>(timeout: Duration, _ body: () throws -> T) rethrows -> T? {
        let clock = SystemClock()
        let deadline = clock.now + timeout
        while pthread_mutex_trylock(mutex) != 0 {
            if clock.now >= deadline { return nil }
            clock.sleep(for: .milliseconds(1))
        }
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits for `broadcast()`. Call inside `withLock`; may wake spuriously.
    public func wait() {
        pthread_cond_wait(condition, mutex)
    }

    /// Waits for `broadcast()` or the monotonic `deadline`; false once the deadline has passed.
    /// Call inside `withLock`; may wake spuriously.
    public func wait(until deadline: Duration) -> Bool {
        let (seconds, attoseconds) = deadline.components
        var time = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        return pthread_cond_timedwait(condition, mutex, &time) != ETIMEDOUT
    }

    /// Wakes one waiting thread. Call it with the lock held, after changing what it waits for.
    public func signal() {
        pthread_cond_signal(condition)
    }

    public func broadcast() {
        pthread_cond_broadcast(condition)
    }
}
