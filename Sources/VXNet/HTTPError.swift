import VXShared

/// Why a request failed. Each description is one line naming the endpoint
/// (`scheme://host:port/path`, never the query or a credential).
public enum HTTPError: Error, Sendable, Equatable, CustomStringConvertible, RetryAfterHinting {
    /// The URL cannot be used (shown without query or credentials).
    case invalidURL(String, reason: String)
    /// The request cannot be sent as given (a header with a line break, ...).
    case invalidRequest(HTTPEndpoint, reason: String)
    /// No connection: refused, unreachable, name not resolved, or the connect timeout passed.
    case connect(HTTPEndpoint, reason: String)
    /// The server answered with a status other than 2xx. `excerpt` is the start of the body on
    /// one line, with credentials cut out.
    case status(HTTPEndpoint, status: Int, retryAfter: Duration?, excerpt: String)
    /// A timeout passed after connecting. `responseStarted` tells whether any of the response had
    /// arrived by then.
    case timeout(HTTPEndpoint, limit: Timeout, after: Duration, responseStarted: Bool)
    /// The connection broke (closed or reset by the server) before the response was complete.
    case connectionLost(HTTPEndpoint, reason: String, responseStarted: Bool)
    /// Stopped by a `Cancellation`.
    case cancelled(HTTPEndpoint)
    /// What came back is not HTTP, or not what the caller expected (bad JSON, too big, ...).
    case malformedResponse(HTTPEndpoint, reason: String)
    /// Anything else libcurl reports (TLS certificate problems, ...).
    case failed(HTTPEndpoint, reason: String)

    /// Which `HTTPTimeouts` limit passed.
    public enum Timeout: String, Sendable, Equatable {
        case idle, total
    }

    /// True when trying again may help: no connection, 429, 5xx, a timeout or a lost connection
    /// before any of the response arrived. Other 4xx, cancellation, a bad request or a response
    /// that broke off midway (the caller may already have consumed part of it) are final.
    public var isRetryable: Bool {
        switch self {
        case .connect: true
        case .status(_, let status, _, _): status == 429 || (500...599).contains(status)
        case .timeout(_, _, _, let started), .connectionLost(_, _, let started): !started
        case .invalidURL, .invalidRequest, .cancelled, .malformedResponse, .failed: false
        }
    }

    /// True when the failure says the service is unwell (what a circuit breaker counts): no
    /// connection, 429, 5xx, timeouts, lost connections, malformed responses and other libcurl
    /// failures. A 4xx other than 429 is the service answering; a bad request or a cancellation
    /// says nothing about it.
    public var indicatesUnhealthyService: Bool {
        switch self {
        case .connect, .timeout, .connectionLost, .malformedResponse, .failed: true
        case .status(_, let status, _, _): status == 429 || (500...599).contains(status)
        case .invalidURL, .invalidRequest, .cancelled: false
        }
    }

    /// The server's `Retry-After`, for `RetryPolicy.run`.
    public var retryAfter: Duration? {
        if case .status(_, _, let retryAfter, _) = self { return retryAfter }
        return nil
    }

    public var endpoint: HTTPEndpoint? {
        switch self {
        case .invalidURL: nil
        case .invalidRequest(let e, _), .connect(let e, _), .status(let e, _, _, _), .timeout(let e, _, _, _),
             .connectionLost(let e, _, _), .cancelled(let e), .malformedResponse(let e, _), .failed(let e, _):
            e
        }
    }

    public var description: String {
        switch self {
        case let .invalidURL(url, reason):
            return "invalid URL '\(url)': \(reason)"
        case let .invalidRequest(e, reason):
            return "cannot send the request to \(e): \(reason)"
        case let .connect(e, reason):
            return "cannot connect to \(e): \(reason)"
        case let .status(e, status, retryAfter, excerpt):
            var text = "HTTP \(status) from \(e)"
            if let retryAfter { text += " (retry after \(retryAfter.humanReadable))" }
            return excerpt.isEmpty ? text : "\(text): \(excerpt)"
        case let .timeout(e, limit, after, started):
            let phase = started ? "while the response was arriving" : "waiting for a response"
            let what = limit == .idle ? "no data for \(after.humanReadable)" : "over the \(after.humanReadable) time limit"
            return "request to \(e) timed out \(phase) (\(what))"
        case let .connectionLost(e, reason, started):
            let phase = started ? "in the middle of the response" : "before responding"
            return "\(e) closed the connection \(phase): \(reason)"
        case let .cancelled(e):
            return "request to \(e) was cancelled"
        case let .malformedResponse(e, reason):
            return "bad response from \(e): \(reason)"
        case let .failed(e, reason):
            return "request to \(e) failed: \(reason)"
        }
    }
}
