#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A clock that never goes backwards, and that can wait.
///
/// Time-dependent code (retries, circuit breakers) takes one of these through `init` or a parameter,
/// so tests can pass a `ManualClock` and never really sleep.
public protocol MonotonicClock: Sendable {
    /// Time elapsed since an arbitrary fixed origin.
    var now: Duration { get }

    /// Blocks the calling thread for `duration` (returns at once if it is zero or negative).
    func sleep(for duration: Duration)

    /// Suspends the calling task for `duration`; throws `CancellationError` if the task is cancelled.
    func sleep(for duration: Duration) async throws
}

/// The real clock: `CLOCK_MONOTONIC`, `nanosleep` and `Task.sleep`.
public struct SystemClock: MonotonicClock {
    public init() {}

    public var now: Duration {
        var ts = timespec()
        let rc = clock_gettime(CLOCK_MONOTONIC, &ts)
        precondition(rc == 0, "clock_gettime(CLOCK_MONOTONIC) failed with errno \(errno)")
        return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
    }

    public func sleep(for duration: Duration) {
        guard duration > .zero else { return }
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: .init(seconds), tv_nsec: .init(attoseconds / 1_000_000_000))
        var remaining = timespec()
        // A signal cuts the sleep short; carry on with what is left.
        while nanosleep(&request, &remaining) == -1, errno == EINTR {
            request = remaining
        }
    }

    public func sleep(for duration: Duration) async throws {
        guard duration > .zero else {
            try Task.checkCancellation()
            return
        }
        try await Task.sleep(for: duration)
    }
}

/// A clock for tests: it starts at `.zero` and moves only when told to.
///
/// `sleep(for:)`, sync or async, returns at once after advancing the clock by the requested amount,
/// and records the request in `sleeps`.
public final class ManualClock: MonotonicClock, Sendable {
    private struct State {
        var now: Duration = .zero
        var sleeps: [Duration] = []
    }

    private let state = Mutex(State())

    public init() {}

    public var now: Duration {
        state.withLock { $0.now }
    }

    /// Every sleep requested so far, in order.
    public var sleeps: [Duration] {
        state.withLock { $0.sleeps }
    }

    /// Moves the clock forward by `duration` (which must not be negative).
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a monotonic clock cannot go backwards")
        state.withLock { $0.now += duration }
    }

    public func sleep(for duration: Duration) {
        recordSleep(duration)
    }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        recordSleep(duration)
    }

    private func recordSleep(_ duration: Duration) {
        state.withLock {
            $0.sleeps.append(duration)
            $0.now += max(duration, .zero)
        }
    }
}

extension Duration {
    /// The duration in nanoseconds, as a `Double` (so scaling it cannot overflow).
    var nanosecondsAsDouble: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    }

    /// The nearest whole-nanosecond duration to `nanoseconds`; zero for negative or NaN input.
    static func nanoseconds(rounding nanoseconds: Double) -> Duration {
        guard nanoseconds > 0 else { return .zero }
        let seconds = min((nanoseconds / 1e9).rounded(.down), 9e18)
        let rest = nanoseconds - seconds * 1e9
        return .seconds(Int64(seconds)) + .nanoseconds(Int64(max(rest, 0).rounded()))
    }

    /// For messages people read: "450 ms" below one second, "3.2 s" from one second up.
    public var humanReadable: String {
        let nanoseconds = max(nanosecondsAsDouble, 0)
        let milliseconds = (nanoseconds / 1e6).rounded()
        if milliseconds < 1000 {
            return "\(Int64(milliseconds)) ms"
        }
        let tenths = Int64(min((nanoseconds / 1e8).rounded(), 9e18))
        return "\(tenths / 10).\(tenths % 10) s"
    }
}
