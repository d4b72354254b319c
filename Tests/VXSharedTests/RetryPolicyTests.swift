import Synchronization
import Testing
import VXShared

private struct Boom: Error, CustomStringConvertible {
    var attempt: Int
    var description: String { "boom \(attempt)" }
}

private struct Busy: RetryAfterHinting, CustomStringConvertible {
    var retryAfter: Duration?
    var description: String { "busy" }
}

private struct Fatal: Error {}

/// Every `run` behaviour is checked through both twins.
enum RetryRunMode: CaseIterable {
    case sync, async
}

/// A sync function, so overload resolution cannot pick the async `run`.
private func runSync<T>(
    _ policy: RetryPolicy,
    clock: ManualClock,
    random: () -> Double,
    isRetryable: (any Error) -> Bool,
    onRetry: (RetryAttempt) -> Void,
    _ operation: (Int) throws -> T
) throws -> T {
    try policy.run(clock: clock, random: random, isRetryable: isRetryable, onRetry: onRetry, operation)
}

private func run<T>(
    _ policy: RetryPolicy,
    _ mode: RetryRunMode,
    clock: ManualClock,
    random: () -> Double = { 0 },
    isRetryable: (any Error) -> Bool = { _ in true },
    onRetry: (RetryAttempt) -> Void = { _ in },
    _ operation: (Int) throws -> T
) async throws -> T {
    switch mode {
    case .sync:
        return try runSync(policy, clock: clock, random: random, isRetryable: isRetryable, onRetry: onRetry, operation)
    case .async:
        return try await policy.run(clock: clock, random: random, isRetryable: isRetryable, onRetry: onRetry) {
            await Task.yield()  // makes this closure async, so the async `run` is the one called
            return try operation($0)
        }
    }
}

/// 50 ms doubling to at most 1 s, no jitter, 5 attempts, no deadline.
private let plain = RetryPolicy(
    maxAttempts: 5, initialDelay: .milliseconds(50), maxDelay: .seconds(1), multiplier: 2, jitter: 0
)

@Test(arguments: [
    (1, 50), (2, 100), (3, 200), (4, 400), (5, 800), (6, 1000), (7, 1000), (64, 1000), (5000, 1000),
])
func delayGrowsByMultiplierUntilCapped(afterAttempt n: Int, expectedMilliseconds: Int) {
    #expect(plain.delay(afterAttempt: n, random: 0.7) == .milliseconds(expectedMilliseconds))
}

@Test(arguments: [0.0, 0.25, 0.5, 0.999_999])
func jitterShortensDelayByAtMostItsFraction(random: Double) {
    var policy = plain
    policy.jitter = 0.2
    let delay = policy.delay(afterAttempt: 3, random: random)  // 200 ms before jitter
    let expected = Duration.nanoseconds(Int64((200_000_000 * (1 - 0.2 * random)).rounded()))
    #expect(delay == expected)
    #expect(delay <= .milliseconds(200))
    #expect(delay > .milliseconds(160))
}

@Test func randomOutsideUnitRangeIsClamped() {
    var policy = plain
    policy.jitter = 0.5
    #expect(policy.delay(afterAttempt: 1, random: -3) == .milliseconds(50))
    #expect(policy.delay(afterAttempt: 1, random: 7) == .milliseconds(25))
}

@Test func defaultPolicyBacksOffFrom50MillisecondsTo2Seconds() {
    let policy = RetryPolicy.default
    #expect(policy.maxAttempts == 8)
    #expect(policy.delay(afterAttempt: 1, random: 0) == .milliseconds(50))
    #expect(policy.delay(afterAttempt: 7, random: 0) == .seconds(2))
    #expect(policy.delay(afterAttempt: 1, random: 0.999_999) > .milliseconds(40))
    #expect(policy.deadline == .seconds(15))
}

@Test(arguments: RetryRunMode.allCases)
func retriesUntilSuccessSleepingBackoffDelays(mode: RetryRunMode) async throws {
    let clock = ManualClock()
    var attempts: [Int] = []
    var retries: [RetryAttempt] = []
    let value = try await run(plain, mode, clock: clock, onRetry: { retries.append($0) }) { attempt in
        attempts.append(attempt)
        if attempt < 4 { throw Boom(attempt: attempt) }
        return "ok"
    }
    #expect(value == "ok")
    #expect(attempts == [1, 2, 3, 4])
    #expect(clock.sleeps == [.milliseconds(50), .milliseconds(100), .milliseconds(200)])
    #expect(retries == [
        RetryAttempt(attempt: 1, delay: .milliseconds(50), error: "boom 1"),
        RetryAttempt(attempt: 2, delay: .milliseconds(100), error: "boom 2"),
        RetryAttempt(attempt: 3, delay: .milliseconds(200), error: "boom 3"),
    ])
}

@Test(arguments: RetryRunMode.allCases)
func jitterUsesTheSuppliedRandomNumbers(mode: RetryRunMode) async throws {
    var policy = plain
    policy.jitter = 0.5
    let clock = ManualClock()
    var randoms = [0.5, 0.0].makeIterator()
    _ = try await run(policy, mode, clock: clock, random: { randoms.next()! }) { attempt in
        if attempt < 3 { throw Boom(attempt: attempt) }
    }
    #expect(clock.sleeps == [.microseconds(37_500), .milliseconds(100)])
}

@Test(arguments: RetryRunMode.allCases)
func retryAfterHintReplacesBackoffAndIsNotCappedByMaxDelay(mode: RetryRunMode) async throws {
    let clock = ManualClock()
    let hints: [Duration] = [.seconds(3), .seconds(-1)]
    _ = try await run(plain, mode, clock: clock) { attempt in
        if attempt <= hints.count { throw Busy(retryAfter: hints[attempt - 1]) }
    }
    #expect(clock.sleeps == [.seconds(3), .zero])
}

@Test(arguments: RetryRunMode.allCases)
func errorWithoutHintFallsBackToBackoff(mode: RetryRunMode) async throws {
    let clock = ManualClock()
    _ = try await run(plain, mode, clock: clock) { attempt in
        if attempt == 1 { throw Busy(retryAfter: nil) }
    }
    #expect(clock.sleeps == [.milliseconds(50)])
}

@Test(arguments: RetryRunMode.allCases)
func retryAfterHintIsStillBoundedByDeadline(mode: RetryRunMode) async throws {
    var policy = plain
    policy.deadline = .seconds(2)
    let clock = ManualClock()
    var attempts = 0
    let error = await #expect(throws: RetryError.self) {
        try await run(policy, mode, clock: clock) { _ in
            attempts += 1
            throw Busy(retryAfter: .seconds(3))
        }
    }
    #expect(attempts == 1)
    #expect(clock.sleeps.isEmpty)
    #expect(error?.description == "gave up after 1 attempt in 0 ms: busy")
}

@Test(arguments: RetryRunMode.allCases)
func nonRetryableErrorIsRethrownAtOnce(mode: RetryRunMode) async throws {
    let clock = ManualClock()
    var attempts: [Int] = []
    var retries: [RetryAttempt] = []
    await #expect(throws: Fatal.self) {
        try await run(plain, mode, clock: clock, isRetryable: { !($0 is Fatal) }, onRetry: { retries.append($0) }) {
            attempts.append($0)
            throw Fatal()
        }
    }
    #expect(attempts == [1])
    #expect(retries.isEmpty)
    #expect(clock.sleeps.isEmpty)
}

@Test(arguments: RetryRunMode.allCases)
func cancellationErrorIsNeverRetried(mode: RetryRunMode) async throws {
    let clock = ManualClock()
    var attempts = 0
    await #expect(throws: CancellationError.self) {
        try await run(plain, mode, clock: clock) { _ in
            attempts += 1
            throw CancellationError()
        }
    }
    #expect(attempts == 1)
    #expect(clock.sleeps.isEmpty)
}

@Test(arguments: RetryRunMode.allCases)
func exhaustedErrorSaysAttemptsElapsedAndLastError(mode: RetryRunMode) async throws {
    var policy = plain
    policy.maxAttempts = 3
    policy.initialDelay = .milliseconds(100)
    let clock = ManualClock()
    let error = await #expect(throws: RetryError.self) {
        try await run(policy, mode, clock: clock) { attempt in
            clock.advance(by: .seconds(1))  // each attempt takes a second
            throw Boom(attempt: attempt)
        }
    }
    #expect(error?.description == "gave up after 3 attempts in 3.3 s: boom 3")
    guard case let .exhausted(attempts, elapsed, last) = error else {
        Issue.record("expected .exhausted, got \(String(describing: error))")
        return
    }
    #expect(attempts == 3)
    #expect(elapsed == .milliseconds(3300))
    #expect((last as? Boom)?.attempt == 3)
    #expect(clock.sleeps == [.milliseconds(100), .milliseconds(200)])
}

@Test(arguments: RetryRunMode.allCases)
func noneMakesExactlyOneAttempt(mode: RetryRunMode) async throws {
    let clock = ManualClock()
    var attempts = 0
    let error = await #expect(throws: RetryError.self) {
        try await run(.none, mode, clock: clock) { attempt in
            attempts += 1
            throw Boom(attempt: attempt)
        }
    }
    #expect(attempts == 1)
    #expect(error?.description == "gave up after 1 attempt in 0 ms: boom 1")
}

@Test(arguments: RetryRunMode.allCases)
func deadlineCutsRetriesShort(mode: RetryRunMode) async throws {
    let policy = RetryPolicy(
        maxAttempts: 100, initialDelay: .seconds(1), maxDelay: .seconds(60), multiplier: 2, jitter: 0,
        deadline: .seconds(10)
    )
    let clock = ManualClock()
    var startedAt: [Duration] = []
    let error = await #expect(throws: RetryError.self) {
        try await run(policy, mode, clock: clock) { attempt in
            startedAt.append(clock.now)
            throw Boom(attempt: attempt)
        }
    }
    // Attempts at 0, 1, 3 and 7 s; waiting 8 s more would end at 15 s, past the 10 s deadline.
    #expect(startedAt == [.zero, .seconds(1), .seconds(3), .seconds(7)])
    #expect(clock.sleeps == [.seconds(1), .seconds(2), .seconds(4)])
    #expect(error?.description == "gave up after 4 attempts in 7.0 s: boom 4")
}

@Test(arguments: RetryRunMode.allCases)
func retryEndingExactlyAtDeadlineIsAllowed(mode: RetryRunMode) async throws {
    var policy = plain
    policy.deadline = .milliseconds(150)
    let clock = ManualClock()
    var attempts = 0
    await #expect(throws: RetryError.self) {
        try await run(policy, mode, clock: clock) { attempt in
            attempts += 1
            throw Boom(attempt: attempt)
        }
    }
    // Waits of 50 and 100 ms end at 150 ms exactly; the next (200 ms) would pass it.
    #expect(attempts == 3)
    #expect(clock.sleeps == [.milliseconds(50), .milliseconds(100)])
}

@Test func asyncRunStopsWhenItsTaskIsCancelled() async {
    let clock = ManualClock()
    let attempts = Mutex(0)
    // Its own task, so that cancelling it does not cancel the test.
    let task = Task {
        try await plain.run(clock: clock) { attempt in
            attempts.withLock { $0 += 1 }
            withUnsafeCurrentTask { $0?.cancel() }
            throw Boom(attempt: attempt)
        }
    }
    await #expect(throws: CancellationError.self) { try await task.value }
    #expect(attempts.withLock { $0 } == 1)
    #expect(clock.sleeps.isEmpty)
}

private actor Counter {
    var calls = 0

    /// Touches actor state from the retried closure without `await`: this compiles only because
    /// the async `run` stays on the caller's actor.
    func retryOnActor(clock: ManualClock) async throws -> Int {
        try await plain.run(clock: clock) { attempt in
            calls += 1
            if attempt < 3 { throw Boom(attempt: attempt) }
            return calls
        }
    }
}

@Test func asyncRunKeepsTheCallersIsolation() async throws {
    let clock = ManualClock()
    let counter = Counter()
    #expect(try await counter.retryOnActor(clock: clock) == 3)
    #expect(clock.sleeps == [.milliseconds(50), .milliseconds(100)])
}
