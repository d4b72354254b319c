import Synchronization

/// Stops calling a dependency that keeps failing, and tries it again after a cool-down.
///
/// - closed: calls go through; `failureThreshold` consecutive failures open the circuit.
/// - open: calls are refused with `CircuitBreakerError.open` until `coolDown` has passed.
/// - half-open: the first `acquire()` after the cool-down moves here. At most `halfOpenTrials`
///   trial calls may be in flight at once; `halfOpenTrials` successes in a row close the circuit,
///   and any failure opens it again for a fresh `coolDown`.
///
/// Every successful `acquire()` must be followed by exactly one `recordSuccess()` or
/// `recordFailure()` (`run` does this for you). A result is counted against the state the breaker
/// is in when it is recorded; results that arrive while the circuit is open are ignored.
public final class CircuitBreaker: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Consecutive failures, while closed, that open the circuit (at least 1).
        public var failureThreshold: Int
        /// How long the circuit stays open before it admits trial calls.
        public var coolDown: Duration
        /// In half-open: the most trial calls in flight at once, and the number of successes in a
        /// row that close the circuit (at least 1).
        public var halfOpenTrials: Int

        public init(failureThreshold: Int = 5, coolDown: Duration = .seconds(5), halfOpenTrials: Int = 1) {
            precondition(failureThreshold >= 1, "failureThreshold must be at least 1")
            precondition(coolDown >= .zero, "coolDown must not be negative")
            precondition(halfOpenTrials >= 1, "halfOpenTrials must be at least 1")
            self.failureThreshold = failureThreshold
            self.coolDown = coolDown
            self.halfOpenTrials = halfOpenTrials
        }

        /// 5 failures open it for 5 s, then one trial call at a time.
        public static let `default` = Configuration()
    }

    public enum State: Sendable, Equatable {
        case closed
        /// Refusing calls until the clock reads `until`.
        case open(until: Duration)
        case halfOpen
    }

    private struct Storage {
        var state: State = .closed
        /// Consecutive failures while closed.
        var failures = 0
        /// Trial calls admitted and not yet recorded, while half-open.
        var trialsInFlight = 0
        /// Successful trials in a row, while half-open.
        var trialSuccesses = 0

        /// Moves to `new`, resetting the counters, and returns the transition to report.
        mutating func move(to new: State) -> (State, State)? {
            let old = state
            state = new
            failures = 0
            trialsInFlight = 0
            trialSuccesses = 0
            return old == new ? nil : (old, new)
        }

        /// Applies the open → half-open transition if the cool-down is over at `now`.
        mutating func coolDownIfDue(now: Duration) -> (State, State)? {
            guard case .open(let until) = state, now >= until else { return nil }
            return move(to: .halfOpen)
        }
    }

    /// Names the protected dependency in errors and logs.
    public let name: String
    public let configuration: Configuration
    private let clock: any MonotonicClock
    private let onStateChange: (@Sendable (_ from: State, _ to: State) -> Void)?
    private let storage = Mutex(Storage())

    /// - Parameter onStateChange: called with the old and new state after each transition, outside
    ///   the breaker's lock (so it may read `state`), on the thread that caused the transition.
    public init(
        name: String,
        configuration: Configuration = .default,
        clock: any MonotonicClock = SystemClock(),
        onStateChange: (@Sendable (_ from: State, _ to: State) -> Void)? = nil
    ) {
        self.name = name
        self.configuration = configuration
        self.clock = clock
        self.onStateChange = onStateChange
    }

    /// The current state. Reading it applies an open → half-open transition that is due.
    public var state: State {
        let now = clock.now
        let (state, transition) = storage.withLock { storage in
            let transition = storage.coolDownIfDue(now: now)
            return (storage.state, transition)
        }
        report(transition)
        return state
    }

    /// Asks to make one call. Returns if the call may go ahead; throws `CircuitBreakerError` if not.
    public func acquire() throws(CircuitBreakerError) {
        let now = clock.now
        let (result, transition): (Result<Void, CircuitBreakerError>, (State, State)?) = storage.withLock { storage in
            let transition = storage.coolDownIfDue(now: now)
            switch storage.state {
            case .closed:
                return (.success(()), transition)
            case .open(let until):
                return (.failure(.open(name: name, retryIn: until - now)), transition)
            case .halfOpen:
                guard storage.trialsInFlight < configuration.halfOpenTrials else {
                    return (.failure(.trialsInFlight(name: name, limit: configuration.halfOpenTrials)), transition)
                }
                storage.trialsInFlight += 1
                return (.success(()), transition)
            }
        }
        report(transition)
        try result.get()
    }

    /// Records that an admitted call succeeded.
    public func recordSuccess() {
        let transition: (State, State)? = storage.withLock { storage in
            switch storage.state {
            case .closed:
                storage.failures = 0
                return nil
            case .open:
                return nil
            case .halfOpen:
                storage.trialsInFlight = max(storage.trialsInFlight - 1, 0)
                storage.trialSuccesses += 1
                guard storage.trialSuccesses >= configuration.halfOpenTrials else { return nil }
                return storage.move(to: .closed)
            }
        }
        report(transition)
    }

    /// Records that an admitted call failed.
    public func recordFailure() {
        let now = clock.now
        let transition: (State, State)? = storage.withLock { storage in
            switch storage.state {
            case .closed:
                storage.failures += 1
                guard storage.failures >= configuration.failureThreshold else { return nil }
                return storage.move(to: .open(until: now + configuration.coolDown))
            case .open:
                return nil
            case .halfOpen:
                return storage.move(to: .open(until: now + configuration.coolDown))
            }
        }
        report(transition)
    }

    /// Gives back an admitted call's half-open trial slot without counting a result
    /// (the call was cancelled, which says nothing about the dependency).
    public func recordNoResult() {
        storage.withLock { storage in
            if case .halfOpen = storage.state {
                storage.trialsInFlight = max(storage.trialsInFlight - 1, 0)
            }
        }
    }

    /// Runs `operation` if the circuit allows it, and records the outcome: any error it throws
    /// counts as a failure and is rethrown. Throws `CircuitBreakerError` without calling it if not.
    /// Disfavoured so that async code gets the async `run`, which does not count cancellation.
    @_disfavoredOverload
    public func run<T>(_ operation: () throws -> T) throws -> T {
        try acquire()
        do {
            let value = try operation()
            recordSuccess()
            return value
        } catch {
            recordFailure()
            throw error
        }
    }

    /// The async twin of `run`. A `CancellationError` from `operation` is rethrown without
    /// counting as a success or a failure.
    public func run<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ operation: () async throws -> T
    ) async throws -> T {
        try acquire()
        do {
            let value = try await operation()
            recordSuccess()
            return value
        } catch let error as CancellationError {
            recordNoResult()
            throw error
        } catch {
            recordFailure()
            throw error
        }
    }

    private func report(_ transition: (State, State)?) {
        if let (from, to) = transition {
            onStateChange?(from, to)
        }
    }
}

/// Why a `CircuitBreaker` refused a call.
public enum CircuitBreakerError: Error, Equatable, CustomStringConvertible {
    /// The circuit is open; trial calls are admitted again in `retryIn`.
    case open(name: String, retryIn: Duration)
    /// The circuit is half-open and already has its `limit` trial calls in flight.
    case trialsInFlight(name: String, limit: Int)

    public var description: String {
        switch self {
        case let .open(name, retryIn):
            return "circuit '\(name)' is open; next trial in \(retryIn.humanReadable)"
        case let .trialsInFlight(name, limit):
            let calls = limit == 1 ? "call" : "calls"
            return "circuit '\(name)' is half-open with \(limit) trial \(calls) already in flight"
        }
    }
}
