#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VXShared

/// Stops requests from another thread: an `interrupt` handler calls `cancel()`, and every request
/// and retry wait using this token ends at once with `HTTPError.cancelled`.
///
/// One token usually covers one piece of work (one LLM reply, one utterance); once cancelled it
/// stays cancelled, so make a new one for the next piece. Safe to use from any thread.
public final class Cancellation: @unchecked Sendable {
    private let flag = Atomic<Bool>(false)
    // Waits and transfer wake-ups; the mutex and condition are only touched through the methods below.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var wakers: [ObjectIdentifier: any Waking] = [:]

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

    public var isCancelled: Bool { flag.load(ordering: .acquiring) }

    /// Cancels: running transfers stop and waits return. Calling it again does nothing.
    public func cancel() {
        locked {
            guard !flag.load(ordering: .relaxed) else { return }
            flag.store(true, ordering: .releasing)
            for waker in wakers.values { waker.wake() }
            pthread_cond_broadcast(condition)
        }
    }

    /// Blocks for `duration` or until cancelled, whichever comes first. Returns true if cancelled.
    public func wait(for duration: Duration) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let (seconds, attoseconds) = max(duration, .zero).components
        var nanoseconds = Int(deadline.tv_nsec) + Int(attoseconds / 1_000_000_000)
        deadline.tv_sec += Int(clamping: seconds) + nanoseconds / 1_000_000_000
        nanoseconds %= 1_000_000_000
        deadline.tv_nsec = nanoseconds
        return locked {
            while !flag.load(ordering: .relaxed) {
                if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { break }
            }
            return flag.load(ordering: .relaxed)
        }
    }

    /// Registers something to wake when cancelled. Returns false (and registers nothing) if
    /// already cancelled. The waker stays referenced until `unregister`.
    func register(_ waker: any Waking) -> Bool {
        locked {
            guard !flag.load(ordering: .relaxed) else { return false }
            wakers[ObjectIdentifier(waker)] = waker
            return true
        }
    }

    /// After this returns, `cancel()` no longer touches `waker`.
    func unregister(_ waker: any Waking) {
        _ = locked { wakers.removeValue(forKey: ObjectIdentifier(waker)) }
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}

/// Something blocked in a wait that another thread can cut short (a transfer in `curl_multi_poll`).
protocol Waking: AnyObject {
    /// Called with the cancellation's lock held; must be quick and thread-safe.
    func wake()
}

/// A clock for `RetryPolicy.run` whose waits end early when `cancellation` is cancelled.
/// Waits on the real clock go through the cancellation's condition; any other clock (a
/// `ManualClock` in tests) sleeps as usual after a check.
struct CancellableClock<Base: MonotonicClock>: MonotonicClock {
    let base: Base
    let cancellation: Cancellation?

    var now: Duration { base.now }

    func sleep(for duration: Duration) {
        guard let cancellation else { return base.sleep(for: duration) }
        if base is SystemClock {
            _ = cancellation.wait(for: duration)
        } else if !cancellation.isCancelled {
            base.sleep(for: duration)
        }
    }

    func sleep(for duration: Duration) async throws {
        try await base.sleep(for: duration)
    }
}
