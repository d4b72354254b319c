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
    /// Guards `wakers` and carries the waits; `wakers` is only touched under it.
    private let monitor = Monitor()
    private var wakers: [ObjectIdentifier: any Waking] = [:]

    public init() {}

    public var isCancelled: Bool { flag.load(ordering: .acquiring) }

    /// Cancels: running transfers stop and waits return. Calling it again does nothing.
    public func cancel() {
        monitor.withLock {
            guard !flag.load(ordering: .relaxed) else { return }
            flag.store(true, ordering: .releasing)
            for waker in wakers.values { waker.wake() }
            monitor.broadcast()
        }
    }

    /// Blocks for `duration` or until cancelled, whichever comes first. Returns true if cancelled.
    public func wait(for duration: Duration) -> Bool {
        let deadline = SystemClock().now + max(duration, .zero)
        return monitor.withLock {
            while !flag.load(ordering: .relaxed) {
                if !monitor.wait(until: deadline) { break }
            }
            return flag.load(ordering: .relaxed)
        }
    }

    /// Registers something to wake when cancelled. Returns false (and registers nothing) if
    /// already cancelled. The waker stays referenced until `unregister`.
    func register(_ waker: any Waking) -> Bool {
        monitor.withLock {
            guard !flag.load(ordering: .relaxed) else { return false }
            wakers[ObjectIdentifier(waker)] = waker
            return true
        }
    }

    /// After this returns, `cancel()` no longer touches `waker`.
    func unregister(_ waker: any Waking) {
        _ = monitor.withLock { wakers.removeValue(forKey: ObjectIdentifier(waker)) }
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
