import Testing
@testable import VXNet

/// `Retry-After` as delta-seconds or an HTTP-date.
struct RetryAfterTests {
    func head(_ fields: (String, String)...) -> HTTPResponseHead {
        HTTPResponseHead(status: 429, headers: HTTPHeaders(fields.map { HTTPHeaders.Field(name: $0.0, value: $0.1) }))
    }

    @Test func readsSeconds() {
        #expect(head(("retry-after", " 120 ")).retryAfter == .seconds(120))
        #expect(head(("Retry-After", "0")).retryAfter == .zero)
        #expect(head().retryAfter == nil)
        #expect(head(("Retry-After", "soon")).retryAfter == nil)
        #expect(head(("Retry-After", "-5")).retryAfter == nil)
    }

    @Test func readsAnHTTPDateAgainstTheResponseDate() {
        let h = head(("Date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"))
        #expect(h.retryAfter == .seconds(30))
        // RFC 850 and asctime forms too.
        #expect(HTTPResponseHead.parseRetryAfter("Sunday, 06-Nov-94 08:49:47 GMT", date: "Sun, 06 Nov 1994 08:49:37 GMT", now: { 0 })
            == .seconds(10))
        #expect(HTTPResponseHead.parseRetryAfter("Sun Nov  6 08:49:57 1994", date: "Sun, 06 Nov 1994 08:49:37 GMT", now: { 0 })
            == .seconds(20))
    }

    @Test func withoutADateHeaderUsesThisMachinesClock() {
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        #expect(HTTPResponseHead.parseRetryAfter("Sun, 06 Nov 1994 08:50:37 GMT", date: nil, now: { 784_111_777 }) == .seconds(60))
        #expect(HTTPResponseHead.parseRetryAfter("Sun, 06 Nov 1994 08:40:00 GMT", date: nil, now: { 784_111_777 }) == .zero,
                "a date in the past means now")
    }
}
