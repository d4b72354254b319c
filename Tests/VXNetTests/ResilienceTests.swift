import Foundation
import Logging
import Testing
import VXNet
import VXShared

/// Retries and the circuit breaker around real requests to the fixture server.
struct ResilienceTests {
    let logs = LogStore()
    var client: HTTPClient { HTTPClient(logger: logs.logger) }

    /// Retries with fixed, small delays (the tests that pass a ManualClock never wait at all).
    func retries(_ attempts: Int, delay: Duration = .milliseconds(10), deadline: Duration? = nil) -> RetryPolicy {
        RetryPolicy(maxAttempts: attempts, initialDelay: delay, maxDelay: delay, jitter: 0, deadline: deadline)
    }

    @Test func aServerErrorIsRetriedAndTheRetryLogged() throws {
        let server = try FakeEngineServer(script: #"[{"status": 500, "body": "busy"}, {"json": {"text": "ok"}}]"#)
        let clock = ManualClock()
        let response = try client.send(HTTPRequest(url: server.baseURL + "/v1/x"),
                                       resilience: Resilience(retry: retries(3, delay: .milliseconds(250))), clock: clock)
        #expect(response.text == #"{"text": "ok"}"#)
        #expect(try server.requests().count == 2)
        #expect(clock.sleeps == [.milliseconds(250)])
        let retryLines = logs.all.filter { $0.hasPrefix("warning request failed; retrying") }
        #expect(retryLines.count == 1)
        #expect(retryLines.first?.contains("retry.attempt=1") == true)
        #expect(retryLines.first?.contains("HTTP 500 from http://127.0.0.1:\(server.port)/v1/x: busy") == true)
    }

    @Test func retryAfterIsHonoured() throws {
        let server = try FakeEngineServer(script: #"[{"status": 429, "headers": {"Retry-After": "1"}}, {"json": {}}]"#)
        // Real time: the policy's own backoff (10 ms) is far shorter than the hint.
        let response = try client.send(HTTPRequest(url: server.baseURL + "/"), resilience: Resilience(retry: retries(2)))
        #expect(response.status == 200)
        let requests = try server.requests()
        #expect(requests.count == 2)
        #expect(requests[1].t - requests[0].t >= 1.0, "the second request came \(requests[1].t - requests[0].t) s after the first")
        #expect(logs.all.contains { $0.contains("retry.delay_ms=1000") })
    }

    @Test func aSlowServerIsRetriedThenGivesUpWithAClearError() throws {
        let server = try FakeEngineServer(script: #"{"default": {"sleep": 30, "json": {}}}"#)
        let timeouts = HTTPTimeouts(idle: .milliseconds(300), total: .seconds(60))
        let clock = ManualClock()
        #expect {
            try client.send(HTTPRequest(url: server.baseURL + "/slow", timeouts: timeouts),
                            resilience: Resilience(retry: retries(2)), clock: clock)
        } throws: { error in
            guard case .exhausted(2, _, let last as HTTPError)? = error as? RetryError,
                  case .timeout(_, .idle, _, responseStarted: false) = last else { return false }
            return "\(error)".hasSuffix(
                "request to http://127.0.0.1:\(server.port)/slow timed out waiting for a response (no data for 300 ms)")
                && !"\(error)".contains("\n")
        }
        #expect(try server.waitForRequests(2).count == 2)
    }

    @Test func aDeadPortIsRetriedThenGivesUp() throws {
        let port = try deadPort()
        let clock = ManualClock()
        #expect {
            try client.send(HTTPRequest(url: "http://127.0.0.1:\(port)/v1/x"), resilience: Resilience(retry: retries(3)), clock: clock)
        } throws: { error in
            guard case .exhausted(3, _, let last as HTTPError)? = error as? RetryError, case .connect = last else { return false }
            return "\(error)".contains("cannot connect to http://127.0.0.1:\(port)/v1/x")
        }
        #expect(clock.sleeps.count == 2)
        #expect(logs.all.filter { $0.hasPrefix("warning request failed; retrying") }.count == 2)
    }

    @Test func aClientErrorIsNeitherRetriedNorHeldAgainstTheService() throws {
        let server = try FakeEngineServer(script: #"{"default": {"status": 400, "body": "bad audio"}}"#)
        let breaker = CircuitBreaker(name: "stt", configuration: .init(failureThreshold: 1), clock: ManualClock())
        for _ in 0..<2 {
            #expect(throws: HTTPError.self) {
                try client.send(HTTPRequest(url: server.baseURL + "/"),
                                resilience: Resilience(retry: retries(5), breaker: breaker), clock: ManualClock())
            }
        }
        #expect(try server.requests().count == 2)
        #expect(breaker.state == .closed)
    }

    @Test func theBreakerOpensFailsFastAndClosesAfterTheCoolDown() throws {
        let server = try FakeEngineServer(script: #"[{"status": 500}, {"status": 502}, {"status": 503}, {"json": {"ok": 1}}]"#)
        let breakerClock = ManualClock()
        let breaker = CircuitBreaker(name: "stt", configuration: .init(failureThreshold: 3, coolDown: .seconds(5)), clock: breakerClock)
        let resilience = Resilience(retry: .none, breaker: breaker)
        let request = HTTPRequest(url: server.baseURL + "/")

        for status in [500, 502, 503] {
            #expect {
                try client.send(request, resilience: resilience)
            } throws: { error in
                guard case .status(_, status, _, _)? = error as? HTTPError else { return false }
                return true
            }
        }
        #expect(breaker.state == .open(until: .seconds(5)))
        #expect(throws: CircuitBreakerError.open(name: "stt", retryIn: .seconds(5))) {
            try client.send(request, resilience: resilience)
        }
        #expect(try server.requests().count == 3, "a refused call never reaches the server")

        breakerClock.advance(by: .seconds(5))
        #expect(try client.send(request, resilience: resilience).status == 200)
        #expect(breaker.state == .closed)
        #expect(try server.requests().count == 4)
    }

    @Test func aBreakerThatOpensDuringRetriesReportsTheRealFailure() throws {
        let server = try FakeEngineServer(script: #"{"default": {"status": 500, "body": "down"}}"#)
        let breaker = CircuitBreaker(name: "llm", configuration: .init(failureThreshold: 2, coolDown: .seconds(5)), clock: ManualClock())
        #expect {
            try client.send(HTTPRequest(url: server.baseURL + "/"), resilience: Resilience(retry: retries(5), breaker: breaker),
                            clock: ManualClock())
        } throws: { error in
            guard case .exhausted(2, _, let last as HTTPError)? = error as? RetryError, case .status(_, 500, _, "down") = last else {
                return false
            }
            return true
        }
        #expect(try server.requests().count == 2)
    }

    @Test func cancellingDuringTheBackoffEndsTheWaitAndTheCall() throws {
        let server = try FakeEngineServer(script: #"[{"status": 503}, {"json": {}}]"#)
        let cancellation = Cancellation()
        let client = self.client
        let request = HTTPRequest(url: server.baseURL + "/")
        // An hour's backoff on the real clock: only the cancellation can end it.
        let resilience = Resilience(retry: retries(2, delay: .seconds(3600)))
        let running = Background { Outcome { try client.send(request, resilience: resilience, cancellation: cancellation).status } }
        _ = try server.waitForRequests(1)
        cancellation.cancel()
        let outcome = try #require(running.wait(seconds: 30), "the backoff did not end on cancel()")
        #expect(outcome.error as? HTTPError == .cancelled(try HTTPEndpoint(url: request.url)))
        #expect(try server.requests().count == 1)
    }

    @Test func aCancelledTrialDoesNotCloseTheCircuit() throws {
        let server = try FakeEngineServer(script: #"{"default": {"sleep": 3600, "json": {}}}"#)
        let breakerClock = ManualClock()
        let breaker = CircuitBreaker(name: "tts", configuration: .init(failureThreshold: 1, coolDown: .seconds(1)), clock: breakerClock)
        try breaker.acquire()
        breaker.recordFailure()
        breakerClock.advance(by: .seconds(1))
        #expect(breaker.state == .halfOpen)

        let cancellation = Cancellation()
        let client = self.client
        let request = HTTPRequest(url: server.baseURL + "/")
        let running = Background {
            Outcome { try client.send(request, resilience: Resilience(breaker: breaker), cancellation: cancellation).status }
        }
        _ = try server.waitForRequests(1)
        cancellation.cancel()
        _ = try #require(running.wait(seconds: 30))
        // Nothing was learnt: still half-open, and the trial slot was handed back, so a new
        // trial is admitted at once rather than after another cool-down.
        #expect(breaker.state == .halfOpen)
        #expect(throws: Never.self) { try breaker.acquire() }
    }

    @Test func cancellationEndsARealWaitEarly() throws {
        let cancellation = Cancellation()
        #expect(!cancellation.wait(for: .milliseconds(1)))
        let waiting = Background { cancellation.wait(for: .seconds(3600)) }
        cancellation.cancel()
        let returned: Bool? = waiting.wait(seconds: 30)
        #expect(returned == true, "wait(for:) did not return true on cancel()")
        #expect(cancellation.wait(for: .seconds(3600)), "a cancelled token does not wait")
    }
}
