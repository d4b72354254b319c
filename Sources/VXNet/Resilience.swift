import Logging
import VXShared

/// How a client calls one remote backend: retries with backoff (honouring `Retry-After`), and an
/// optional circuit breaker that makes calls fail fast while the backend keeps failing.
///
/// Each attempt goes through the breaker, so its `failureThreshold` counts failed attempts, not
/// failed calls: a backend that is down opens the circuit during one call's retries, and later
/// calls are refused with `CircuitBreakerError.open` without touching the network until the
/// cool-down has passed. Keep one breaker per backend for the life of the process.
///
/// Classification (`HTTPError.isRetryable`, `HTTPError.indicatesUnhealthyService`):
/// - retried, counted as breaker failures: no connection, 429, 5xx, and timeouts or lost
///   connections before any of the response arrived;
/// - not retried, counted as failures: the same after the response had started (the caller may
///   have consumed part of it), malformed responses, other libcurl failures, and any error the
///   operation throws itself (a reply it cannot parse);
/// - not retried, counted as successes (the backend answered): 4xx other than 429;
/// - not retried, not counted: cancellation and requests that cannot be sent (a bad URL).
public struct Resilience: Sendable {
    public var retry: RetryPolicy
    public var breaker: CircuitBreaker?

    public init(retry: RetryPolicy = .none, breaker: CircuitBreaker? = nil) {
        self.retry = retry
        self.breaker = breaker
    }

    /// Runs `operation` (passed the attempt number, from 1) until it returns or the policy gives
    /// up, blocking this thread between attempts. Each retry is logged at `warning` with the
    /// attempt, the wait and the error.
    ///
    /// Throws the operation's error unchanged when it is not worth retrying or was the only
    /// attempt, `RetryError.exhausted` (with the last error) when attempts run out or the breaker
    /// opens during them, and `CircuitBreakerError` when the breaker refuses the first attempt.
    /// A wait between attempts ends early when `cancellation` is cancelled; pass the same token to
    /// the requests in `operation` so the next attempt stops with `HTTPError.cancelled`.
    ///
    /// - Parameter clock: measures and waits out the backoff (a `ManualClock` in tests).
    public func run<T>(
        logger: Logger,
        cancellation: Cancellation? = nil,
        clock: some MonotonicClock = SystemClock(),
        _ operation: (_ attempt: Int) throws -> T
    ) throws -> T {
        let start = clock.now
        var lastFailure: (any Error)?
        do {
            return try retry.run(
                clock: CancellableClock(base: clock, cancellation: cancellation),
                isRetryable: Self.isRetryable,
                onRetry: { retry in
                    logger.warning("request failed; retrying", metadata: [
                        "retry.attempt": "\(retry.attempt)",
                        "retry.delay_ms": "\(retry.delay.milliseconds)",
                        "error": "\(retry.error)",
                    ])
                }
            ) { attempt in
                if let breaker {
                    do {
                        try breaker.acquire()
                    } catch {
                        // Opened by this call's own failures: report what failed, not the breaker.
                        if let last = lastFailure { throw BreakerOpened(attempts: attempt - 1, last: last) }
                        throw error
                    }
                }
                do {
                    let value = try operation(attempt)
                    breaker?.recordSuccess()
                    return value
                } catch {
                    if let breaker { Self.record(error, in: breaker) }
                    lastFailure = error
                    throw error
                }
            }
        } catch RetryError.exhausted(1, _, let last) {
            throw last  // a policy without retries: the failure itself says it all
        } catch let stop as BreakerOpened {
            logger.debug("circuit opened during retries", metadata: ["circuit": "\(breaker?.name ?? "")"])
            throw RetryError.exhausted(attempts: stop.attempts, elapsed: clock.now - start, last: stop.last)
        }
    }

    private struct BreakerOpened: Error {
        var attempts: Int
        var last: any Error
    }

    static func isRetryable(_ error: any Error) -> Bool {
        (error as? HTTPError)?.isRetryable ?? false
    }

    private static func record(_ error: any Error, in breaker: CircuitBreaker) {
        guard let error = error as? HTTPError else { return breaker.recordFailure() }
        switch error {
        case .cancelled, .invalidURL, .invalidRequest:
            // Nothing learnt about the backend: a half-open trial slot is handed back without a
            // result, and barge-ins never open the circuit.
            breaker.recordNoResult()
        default:
            if error.indicatesUnhealthyService { breaker.recordFailure() } else { breaker.recordSuccess() }
        }
    }
}

extension HTTPClient {
    /// `send` through `resilience`: retried, and refused while its breaker is open.
    public func send(
        _ request: HTTPRequest,
        resilience: Resilience,
        cancellation: Cancellation? = nil,
        clock: some MonotonicClock = SystemClock()
    ) throws -> HTTPResponse {
        var log = logger
        if let endpoint = try? HTTPEndpoint(url: request.url) { log[metadataKey: "http.endpoint"] = "\(endpoint)" }
        return try resilience.run(logger: log, cancellation: cancellation, clock: clock) { _ in
            try send(request, cancellation: cancellation)
        }
    }
}
