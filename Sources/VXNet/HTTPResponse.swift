#if canImport(Glibc)
import Glibc
#endif
import CCurl

/// The status line and headers of a response.
public struct HTTPResponseHead: Sendable, Equatable {
    public var status: Int
    public var headers: HTTPHeaders

    public init(status: Int, headers: HTTPHeaders) {
        self.status = status
        self.headers = headers
    }

    /// True for 2xx.
    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The server's `Retry-After`, as a wait from now: delta-seconds, or an HTTP-date measured
    /// against the response's `Date` (or, without one, this machine's clock). nil when absent
    /// or unreadable; a date in the past is zero.
    public var retryAfter: Duration? {
        guard let value = headers["Retry-After"] else { return nil }
        return Self.parseRetryAfter(value, date: headers["Date"], now: { time(nil) })
    }

    static func parseRetryAfter(_ value: String, date: String?, now: () -> Int) -> Duration? {
        let value = value.trimmingSpaces
        guard !value.isEmpty else { return nil }
        if value.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            // Very long digit strings are absurd; clamp rather than overflow.
            return .seconds(Int64(value.prefix(12))!)
        }
        guard let when = httpDate(value) else { return nil }
        let reference = date.flatMap(httpDate) ?? now()
        return .seconds(max(when - reference, 0))
    }

    /// Seconds since the epoch for an HTTP-date (IMF-fixdate, RFC 850 or asctime form).
    static func httpDate(_ text: String) -> Int? {
        let t = curl_getdate(text, nil)
        return t < 0 ? nil : Int(t)
    }
}

/// A whole response, body collected.
public struct HTTPResponse: Sendable, Equatable {
    public var head: HTTPResponseHead
    public var body: [UInt8]

    public init(head: HTTPResponseHead, body: [UInt8]) {
        self.head = head
        self.body = body
    }

    public var status: Int { head.status }
    public var headers: HTTPHeaders { head.headers }
    /// The body as UTF-8 text (invalid bytes replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}
