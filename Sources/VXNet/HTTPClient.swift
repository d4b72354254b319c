import Logging
import Synchronization
import VXShared

/// A small synchronous HTTP client on libcurl, for remote engines (speech-to-text, LLM, TTS).
///
/// Requests block the calling thread until the response is complete, a timeout passes, or a
/// `Cancellation` given with the request is cancelled from another thread (which stops it at
/// once). Any number of threads may send requests through one client at the same time: each
/// request gets a libcurl handle of its own, taken from a small pool so that later requests
/// reuse open connections. libcurl is initialised once per process, on first use.
///
/// Credentials in headers (`Authorization`, `X-Api-Key`, ...) never reach logs or errors; errors
/// name the endpoint as `scheme://host:port/path`, without the query.
public final class HTTPClient: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// The largest body `send` collects; a bigger one is `HTTPError.malformedResponse`.
        public var maxResponseBytes: Int
        /// Idle libcurl handles (and their open connections) kept for later requests.
        public var pooledHandles: Int

        public init(maxResponseBytes: Int = 16 << 20, pooledHandles: Int = 4) {
            self.maxResponseBytes = maxResponseBytes
            self.pooledHandles = pooledHandles
        }
    }

    public let configuration: Configuration
    let logger: Logger
    private let pool = Mutex<[CurlTransfer]>([])

    public init(configuration: Configuration = Configuration(), logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Sends `request` and collects the whole response. A status other than 2xx is thrown as
    /// `HTTPError.status`.
    public func send(_ request: HTTPRequest, cancellation: Cancellation? = nil) throws(HTTPError) -> HTTPResponse {
        let limit = configuration.maxResponseBytes
        var body: [UInt8] = []
        do {
            let head = try stream(request, cancellation: cancellation) { chunk in
                guard body.count + chunk.count <= limit else { throw BodyTooLarge() }
                body.append(contentsOf: chunk)
            }
            return HTTPResponse(head: head, body: body)
        } catch let error as HTTPError {
            throw error
        } catch is BodyTooLarge {
            throw .malformedResponse(try HTTPEndpoint(url: request.url), reason: "the body is over the \(limit)-byte limit")
        } catch {
            throw .failed(try HTTPEndpoint(url: request.url), reason: "\(error)")
        }
    }

    private struct BodyTooLarge: Error {}

    /// Sends `request` and hands the body to `onBody` as it arrives, in chunks of any size, on
    /// this thread. `onHead` is called once with the status and headers before the first chunk
    /// (or, for an empty body, at the end). Both are called only for a 2xx response; any other
    /// status is thrown as `HTTPError.status` and its body is kept for the error's excerpt.
    /// An error thrown by `onHead` or `onBody` stops the request and is rethrown unchanged.
    /// Returns the response head once the body is complete.
    @discardableResult
    public func stream(
        _ request: HTTPRequest,
        cancellation: Cancellation? = nil,
        onHead: (HTTPResponseHead) throws -> Void = { _ in },
        onBody: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> HTTPResponseHead {
        let endpoint = try HTTPEndpoint(url: request.url)
        guard let transfer = takeTransfer() else {
            throw HTTPError.failed(endpoint, reason: "libcurl could not be initialised")
        }
        let clock = SystemClock()
        let start = clock.now
        var log = logger
        log[metadataKey: "http.endpoint"] = "\(endpoint)"
        log[metadataKey: "http.method"] = "\(request.method)"
        do {
            let head = try withoutActuallyEscaping(onHead) { onHead in
                try withoutActuallyEscaping(onBody) { onBody in
                    let state = TransferState(cancellation: cancellation, secrets: secrets(of: request),
                                              onHead: onHead, onBody: onBody)
                    try transfer.perform(request, endpoint: endpoint, state: state)
                    return state.head
                }
            }
            giveBack(transfer)
            log.debug("request done", metadata: ["http.status": "\(head.status)",
                                                 "http.ms": "\((clock.now - start).milliseconds)"])
            return head
        } catch {
            giveBack(transfer)
            log.debug("request failed", metadata: ["error": "\(error)", "http.ms": "\((clock.now - start).milliseconds)"])
            throw error
        }
    }

    private func secrets(of request: HTTPRequest) -> [String] {
        var secrets = request.headers.secrets
        // The query and any user:password, which errors never show but libcurl's own text might.
        if let query = request.url.split(separator: "?", maxSplits: 1).dropFirst().first {
            secrets.append(String(query.split(separator: "#").first ?? query))
        }
        if let schemeEnd = request.url.firstRange(of: "://"),
           let at = request.url[schemeEnd.upperBound...].prefix(while: { $0 != "/" && $0 != "?" }).lastIndex(of: "@") {
            secrets.append(String(request.url[schemeEnd.upperBound..<at]))
        }
        return secrets.filter { $0.count >= 3 }
    }

    private func takeTransfer() -> CurlTransfer? {
        pool.withLock { $0.popLast() } ?? CurlTransfer()
    }

    private func giveBack(_ transfer: CurlTransfer) {
        let keep = configuration.pooledHandles
        pool.withLock { pool in
            if pool.count < keep { pool.append(transfer) }
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
