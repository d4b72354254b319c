/// One HTTP request: what to send and how long to wait for it.
public struct HTTPRequest: Sendable {
    public enum Body: Sendable {
        case empty
        /// Raw bytes; set `Content-Type` yourself (e.g. `application/json`).
        case bytes([UInt8])
        /// `multipart/form-data`, for file uploads. The client sets `Content-Type` and its boundary.
        case multipart([MultipartPart])
    }

    /// `GET`, `POST`, ... (sent as given).
    public var method: String
    /// An absolute `http` or `https` URL. Only its scheme, host, port and path ever appear in
    /// errors and logs; the query and any user name or password do not.
    public var url: String
    public var headers: HTTPHeaders
    public var body: Body
    public var timeouts: HTTPTimeouts

    public init(
        method: String = "GET",
        url: String,
        headers: HTTPHeaders = [:],
        body: Body = .empty,
        timeouts: HTTPTimeouts = .default
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeouts = timeouts
    }

    /// A `POST` of a JSON document (`Content-Type: application/json`).
    public static func postJSON(url: String, json: some StringProtocol, headers: HTTPHeaders = [:],
                                timeouts: HTTPTimeouts = .default) -> HTTPRequest {
        var headers = headers
        headers.set("Content-Type", "application/json")
        return HTTPRequest(method: "POST", url: url, headers: headers, body: .bytes(Array(json.utf8)), timeouts: timeouts)
    }
}

/// One part of a `multipart/form-data` body: a plain field, or a file with a name and type.
public struct MultipartPart: Sendable, Equatable {
    public var name: String
    public var filename: String?
    public var contentType: String?
    public var data: [UInt8]

    public init(name: String, filename: String? = nil, contentType: String? = nil, data: [UInt8]) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
        self.data = data
    }

    /// A text field.
    public static func field(_ name: String, _ value: String) -> MultipartPart {
        MultipartPart(name: name, data: Array(value.utf8))
    }

    /// A file upload.
    public static func file(_ name: String, filename: String, contentType: String, data: [UInt8]) -> MultipartPart {
        MultipartPart(name: name, filename: filename, contentType: contentType, data: data)
    }
}

/// How long a request may take. A limit that passes ends the request with `HTTPError.timeout`
/// (or `.connect` for `connect`).
public struct HTTPTimeouts: Sendable, Equatable {
    /// Resolving the host and opening the connection (TLS included).
    public var connect: Duration
    /// The longest time with no bytes moving either way, from the start of the request:
    /// it bounds the wait for the first byte of the response and any pause while it streams.
    /// `nil` for no limit.
    public var idle: Duration?
    /// The whole request, from start to the last byte of the response. `nil` for no limit.
    public var total: Duration?

    public init(connect: Duration = .seconds(5), idle: Duration? = .seconds(30), total: Duration? = .seconds(120)) {
        precondition(connect > .zero, "the connect timeout must be positive")
        precondition(idle.map { $0 > .zero } ?? true, "the idle timeout must be positive")
        precondition(total.map { $0 > .zero } ?? true, "the total timeout must be positive")
        self.connect = connect
        self.idle = idle
        self.total = total
    }

    /// 5 s to connect, 30 s idle, 120 s in all.
    public static let `default` = HTTPTimeouts()
}
