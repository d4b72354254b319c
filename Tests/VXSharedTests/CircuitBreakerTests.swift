import Synchronization
import Testing
import VXShared

private struct Boom: Error {}

private struct Change: Equatable, CustomStringConvertible {
    var from: CircuitBreaker.State
    var to: CircuitBreaker.State
    var description: String { "\(from) -> \(to)" }
}

/// Collects the breaker's `onStateChange` calls.
private final class ChangeLog: Sendable {
    private let changes = Mutex<[Change]>([])

    var all: [Change] { changes.withLock { $0 } }

    func record(_ from: CircuitBreaker.State, _ to: CircuitBreaker.State) {
        changes.withLock { $0.append(Change(from: from, to: to)) }
    }
}

private func makeBreaker(
    failureThreshold: Int = 3,
    coolDown: Duration = .seconds(5),
    halfOpenTrials: Int = 1,
    log: ChangeLog? = nil
) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock()
    let breaker = CircuitBreaker(
        name: "stt",
        configuration: .init(failureThreshold: failureThreshold, coolDown: coolDown, halfOpenTrials: halfOpenTrials),
        clock: clock,
        onStateChange: { from, to in log?.record(from, to) }
    )
    return (breaker, clock)
}

/// Opens the breaker (threshold 3) with failed calls.
private func trip(_ breaker: CircuitBreaker) throws {
    for _ in 0..<breaker.configuration.failureThreshold {
        try breaker.acquire()
        breaker.recordFailure()
    }
}

@Test func opensAfterThresholdConsecutiveFailures() throws {
    let (breaker, clock) = makeBreaker(failureThreshold: 3, coolDown: .seconds(5))
    clock.advance(by: .seconds(1))
    for _ in 0..<2 {
        try breaker.acquire()
        breaker.recordFailure()
    }
    #expect(breaker.state == .closed)
    try breaker.acquire()
    breaker.recordFailure()
    #expect(breaker.state == .open(until: .seconds(6)))
}

@Test func successWhileClosedResetsFailureCount() throws {
    let (breaker, _) = makeBreaker(failureThreshold: 3)
    breaker.recordFailure()
    breaker.recordFailure()
    breaker.recordSuccess()
    breaker.recordFailure()
    breaker.recordFailure()
    #expect(breaker.state == .closed)
    breaker.recordFailure()
    #expect(breaker.state == .open(until: .seconds(5)))
}

@Test func rejectsWhileOpenSayingWhenTheNextTrialIs() throws {
    let (breaker, clock) = makeBreaker(coolDown: .seconds(5))
    try trip(breaker)
    clock.advance(by: .milliseconds(3700))
    #expect(throws: CircuitBreakerError.open(name: "stt", retryIn: .milliseconds(1300))) {
        try breaker.acquire()
    }
    do {
        try breaker.acquire()
        Issue.record("acquire should have been refused")
    } catch {
        #expect(error.description == "circuit 'stt' is open; next trial in 1.3 s")
    }
    #expect(breaker.state == .open(until: .seconds(5)))
}

@Test func coolDownEndsInHalfOpen() throws {
    let (breaker, clock) = makeBreaker(coolDown: .seconds(5))
    try trip(breaker)
    clock.advance(by: .milliseconds(4999))
    #expect(breaker.state == .open(until: .seconds(5)))
    clock.advance(by: .milliseconds(1))
    #expect(breaker.state == .halfOpen)
}

@Test func halfOpenAdmitsOnlyTheConfiguredNumberOfTrials() throws {
    let (breaker, clock) = makeBreaker(coolDown: .seconds(5), halfOpenTrials: 2)
    try trip(breaker)
    clock.advance(by: .seconds(5))
    try breaker.acquire()
    try breaker.acquire()
    #expect(breaker.state == .halfOpen)
    #expect(throws: CircuitBreakerError.trialsInFlight(name: "stt", limit: 2)) {
        try breaker.acquire()
    }
    // A finished trial frees its slot.
    breaker.recordSuccess()
    try breaker.acquire()
    #expect(throws: CircuitBreakerError.trialsInFlight(name: "stt", limit: 2)) {
        try breaker.acquire()
    }
}

@Test func closesAfterConsecutiveTrialSuccesses() throws {
    let (breaker, clock) = makeBreaker(failureThreshold: 3, coolDown: .seconds(5), halfOpenTrials: 2)
    try trip(breaker)
    clock.advance(by: .seconds(5))
    try breaker.acquire()
    try breaker.acquire()
    breaker.recordSuccess()
    #expect(breaker.state == .halfOpen)
    breaker.recordSuccess()
    #expect(breaker.state == .closed)
    // Closed again with a clean slate: two failures are not enough to reopen it.
    breaker.recordFailure()
    breaker.recordFailure()
    #expect(breaker.state == .closed)
}

@Test func trialFailureReopensForAFreshCoolDown() throws {
    let (breaker, clock) = makeBreaker(coolDown: .seconds(5))
    try trip(breaker)
    clock.advance(by: .seconds(5))
    try breaker.acquire()
    clock.advance(by: .seconds(1))
    breaker.recordFailure()
    #expect(breaker.state == .open(until: .seconds(11)))
    #expect(throws: CircuitBreakerError.open(name: "stt", retryIn: .seconds(5))) {
        try breaker.acquire()
    }
}

@Test func resultsRecordedWhileOpenAreIgnored() throws {
    let (breaker, _) = makeBreaker(coolDown: .seconds(5))
    try trip(breaker)
    breaker.recordSuccess()
    breaker.recordFailure()
    #expect(breaker.state == .open(until: .seconds(5)))
}

@Test func stateChangeCallbackReportsEveryTransition() throws {
    let log = ChangeLog()
    let (breaker, clock) = makeBreaker(failureThreshold: 2, coolDown: .seconds(5), log: log)
    breaker.recordFailure()
    #expect(log.all.isEmpty)
    breaker.recordFailure()  // opens at 0 s
    clock.advance(by: .seconds(5))
    try breaker.acquire()  // half-open at 5 s
    clock.advance(by: .seconds(1))
    breaker.recordFailure()  // reopens at 6 s
    clock.advance(by: .seconds(5))
    try breaker.acquire()  // half-open at 11 s
    breaker.recordSuccess()  // closes
    #expect(log.all == [
        Change(from: .closed, to: .open(until: .seconds(5))),
        Change(from: .open(until: .seconds(5)), to: .halfOpen),
        Change(from: .halfOpen, to: .open(until: .seconds(11))),
        Change(from: .open(until: .seconds(11)), to: .halfOpen),
        Change(from: .halfOpen, to: .closed),
    ])
}

@Test func runRecordsOutcomesAndSkipsTheOperationWhileOpen() throws {
    let (breaker, _) = makeBreaker(failureThreshold: 2)
    #expect(try breaker.run { 42 } == 42)
    #expect(throws: Boom.self) { try breaker.run { throw Boom() } }
    #expect(breaker.state == .closed)
    #expect(throws: Boom.self) { try breaker.run { throw Boom() } }
    #expect(breaker.state == .open(until: .seconds(5)))
    var called = false
    #expect(throws: CircuitBreakerError.open(name: "stt", retryIn: .seconds(5))) {
        try breaker.run { called = true }
    }
    #expect(!called)
}

@Test func asyncRunRecordsOutcomesAndSkipsTheOperationWhileOpen() async throws {
    let (breaker, clock) = makeBreaker(failureThreshold: 1)
    #expect(try await breaker.run { await Task.yield(); return 42 } == 42)
    await #expect(throws: Boom.self) {
        try await breaker.run { await Task.yield(); throw Boom() }
    }
    #expect(breaker.state == .open(until: .seconds(5)))
    var called = false
    await #expect(throws: CircuitBreakerError.open(name: "stt", retryIn: .seconds(5))) {
        try await breaker.run { await Task.yield(); called = true }
    }
    #expect(!called)
    clock.advance(by: .seconds(5))
    try await breaker.run { await Task.yield() }
    #expect(breaker.state == .closed)
}

@Test func cancelledTrialFreesItsSlotWithoutCounting() async throws {
    let (breaker, clock) = makeBreaker(coolDown: .seconds(5), halfOpenTrials: 1)
    try trip(breaker)
    clock.advance(by: .seconds(5))
    await #expect(throws: CancellationError.self) {
        try await breaker.run { await Task.yield(); throw CancellationError() }
    }
    #expect(breaker.state == .halfOpen)
    try breaker.acquire()  // the slot is free again
}
