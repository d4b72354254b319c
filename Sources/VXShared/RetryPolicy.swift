#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How often, and how patiently, to retry an operation that failed.
///
/// A plain value: exponential backoff from `initialDelay`, multiplied by `multiplier` after each
/// failure and capped at `maxDelay`, with part of each delay randomised downwards (`jitter`) so that
/// many clients do not retry in step. `deadline`, when set, bounds the whole effort, measured from the
/// start of the first attempt.
public struct RetryPolicy: Sendable, Equatable {
    /// Total attempts, the first one included (at least 1).
    public var maxAttempts: Int
    /// The delay after the first failure, before jitter.
    public var initialDelay: Duration
    /// The largest backoff delay. A server's retry-after hint is not capped by it.
    public var maxDelay: Duration
    /// How much each delay grows over the one before.
    public var multiplier: Double
    /// The fraction of each delay that is randomised, in 0...1: the delay is
    /// `delay * (1 - jitter * random)` with `random` in `0..<1`, so it only ever shrinks.
    public var jitter: Double
    /// The overall time budget from the start of the first attempt; `nil` for none.
    /// No retry is started if waiting for it would take the total past this.
    public var deadline: Duration?

    public init(
        maxAttempts: Int,
        initialDelay: Duration,
        maxDelay: Duration,
        multiplier: Double = 2,
        jitter: Double = 0.2,
        deadline: Duration? = nil
    ) {
        precondition(maxAttempts >= 1, "maxAttempts must be at least 1")
        precondition(initialDelay >= .zero && maxDelay >= .zero, "delays must not be negative")
        precondition(multiplier.isFinite && multiplier > 0, "multiplier must be a positive number")
        precondition((0...1).contains(jitter), "jitter must be in 0...1")
        precondition(deadline.map { $0 >= .zero } ?? true, "deadline must not be negative")
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.multiplier = multiplier
        self.jitter = jitter
        self.deadline = deadline
    }

    /// 8 attempts, 50 ms doubling up to 2 s, 20 % jitter, 15 s overall.
    public static let `default` = RetryPolicy(
        maxAttempts: 8,
        initialDelay: .milliseconds(50),
        maxDelay: .seconds(2),
        multiplier: 2,
        jitter: 0.2,
        deadline: .seconds(15)
    )

    /// One attempt, no retries.
    public static let none = RetryPolicy(maxAttempts: 1, initialDelay: .zero, maxDelay: .zero, jitter: 0)

    /// The backoff delay after the `n`th failed attempt (`n` = 1 after the first failure), given a
    /// `random` number in `0..<1`. Pure: the same arguments always give the same delay.
    public func delay(afterAttempt n: Int, random: Double) -> Duration {
        precondition(n >= 1, "attempts are numbered from 1")
        let growth = pow(multiplier, Double(n - 1))
        let uncapped = initialDelay.nanosecondsAsDouble * growth  // may be +infinity; min() below handles it
        let capped = min(uncapped, maxDelay.nanosecondsAsDouble)
        let random = random.isFinite ? min(max(random, 0), 1) : 0
        let jitter = min(max(self.jitter, 0), 1)
        return .nanoseconds(rounding: capped * (1 - jitter * random))
    }
}

/// An error that says how long to wait before trying again (an HTTP `Retry-After`, a busy engine).
///
/// `RetryPolicy.run` waits exactly that long instead of its own backoff (negative hints count as
/// zero; `maxDelay` does not cap them, the deadline still bounds them).
public protocol RetryAfterHinting: Error {
    var retryAfter: Duration? { get }
}

/// One retry about to happen, for logging.
public struct RetryAttempt: Sendable, Equatable {
    /// The attempt that failed, numbered from 1.
    public var attempt: Int
    /// How long `run` waits before the next attempt.
    public var delay: Duration
    /// What the failed attempt threw, as text.
    public var error: String

    public init(attempt: Int, delay: Duration, error: String) {
        self.attempt = attempt
        self.delay = delay
        self.error = error
    }
}

/// Thrown by `RetryPolicy.run` when it gives up.
public enum RetryError: Error, CustomStringConvertible {
    /// Every attempt allowed by the policy failed, or the next wait would have passed its deadline.
    case exhausted(attempts: Int, elapsed: Duration, last: any Error)

    public var description: String {
        switch self {
        case let .exhausted(attempts, elapsed, last):
            let noun = attempts == 1 ? "attempt" : "attempts"
            return "gave up after \(attempts) \(noun) in \(elapsed.humanReadable): \(last)"
        }
    }
}

extension RetryPolicy {
    /// What `run` does after a failed attempt.
    enum Step: Equatable {
        /// Wait this long, then try again.
        case retry(after: Duration)
        /// Throw `RetryError.exhausted`.
        case giveUp
        /// Throw the attempt's own error unchanged: it is not worth retrying.
        case rethrow
    }

    /// The decision after attempt `attempt` failed with `error`, `elapsed` after the first attempt
    /// started. Pure; both `run`s go through it.
    func step(afterAttempt attempt: Int, error: any Error, retryable: Bool, elapsed: Duration, random: Double) -> Step {
        guard retryable else { return .rethrow }
        guard attempt < maxAttempts else { return .giveUp }
        let wait: Duration
        if let hint = (error as? any RetryAfterHinting)?.retryAfter {
            wait = max(hint, .zero)
        } else {
            wait = delay(afterAttempt: attempt, random: random)
        }
        if let deadline, elapsed + wait > deadline {
            return .giveUp
        }
        return .retry(after: wait)
    }

    /// `step` applied: returns the wait before the next attempt, or throws what `run` must throw.
    /// A `CancellationError` is never retried.
    private func waitAfterFailure(
        attempt: Int,
        error: any Error,
        elapsed: Duration,
        random: () -> Double,
        isRetryable: (any Error) -> Bool,
        onRetry: (RetryAttempt) -> Void
    ) throws -> Duration {
        let retryable = !(error is CancellationError) && isRetryable(error)
        switch step(afterAttempt: attempt, error: error, retryable: retryable, elapsed: elapsed, random: random()) {
        case .rethrow:
            throw error
        case .giveUp:
            throw RetryError.exhausted(attempts: attempt, elapsed: elapsed, last: error)
        case .retry(let wait):
            onRetry(RetryAttempt(attempt: attempt, delay: wait, error: String(describing: error)))
            return wait
        }
    }

    /// Runs `operation` (passed the attempt number, from 1) until it returns, retrying failures as
    /// this policy allows and blocking the thread between attempts.
    ///
    /// An error for which `isRetryable` is false is rethrown at once, unchanged. When attempts run out,
    /// or the next wait would pass the deadline, throws `RetryError.exhausted` with the last error.
    ///
    /// Disfavoured so that in async code even a synchronous closure gets the async `run`, which
    /// suspends instead of blocking a thread of the cooperative pool.
    @_disfavoredOverload
    public func run<T>(
        clock: some MonotonicClock = SystemClock(),
        random: () -> Double = { Double.random(in: 0..<1) },
        isRetryable: (any Error) -> Bool = { _ in true },
        onRetry: (RetryAttempt) -> Void = { _ in },
        _ operation: (Int) throws -> T
    ) throws -> T {
        let start = clock.now
        var attempt = 1
        while true {
            do {
                return try operation(attempt)
            } catch {
                clock.sleep(for: try waitAfterFailure(
                    attempt: attempt, error: error, elapsed: clock.now - start,
                    random: random, isRetryable: isRetryable, onRetry: onRetry
                ))
                attempt += 1
            }
        }
    }

    /// The async twin of `run`: the same decisions, but it suspends between attempts
    /// (`clock.sleep(for:) async`) and stops with `CancellationError` if the task is cancelled.
    public func run<T>(
        clock: some MonotonicClock = SystemClock(),
        random: () -> Double = { Double.random(in: 0..<1) },
        isRetryable: (any Error) -> Bool = { _ in true },
        onRetry: (RetryAttempt) -> Void = { _ in },
        isolation: isolated (any Actor)? = #isolation,
        _ operation: (Int) async throws -> T
    ) async throws -> T {
        let start = clock.now
        var attempt = 1
        while true {
            do {
                return try await operation(attempt)
            } catch {
                try await clock.sleep(for: try waitAfterFailure(
                    attempt: attempt, error: error, elapsed: clock.now - start,
                    random: random, isRetryable: isRetryable, onRetry: onRetry
                ))
                attempt += 1
            }
        }
    }
}
