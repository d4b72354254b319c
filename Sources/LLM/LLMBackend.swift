import VXNet
import VXShared

/// A language model behind an HTTP API that streams its reply as server-sent events.
///
/// A backend only knows its wire format: how to ask (`request(for:)`) and how to read the answer
/// (`makeDecoder()`). Sending, retrying, the circuit breaker and cancellation are `ReplyStreamer`'s.
public protocol LLMBackend: Sendable {
    /// "local", "openai" or "anthropic": names the circuit breaker and appears in `reply` events.
    var name: String { get }
    /// The model asked for, as `reply` events report it.
    var model: String { get }
    /// The streaming request that asks for a reply to `prompt`.
    func request(for prompt: Prompt) throws(LLMError) -> HTTPRequest
    /// A new decoder for the events of one response.
    func makeDecoder() -> any ReplyStreamDecoder
}

/// What one server-sent event of a reply stream means.
public enum StreamItem: Sendable, Equatable {
    /// More reply text.
    case delta(String)
    /// The reply is complete (`[DONE]`, `message_stop`, or a finish reason).
    case end
    /// Nothing for the reply (a role-only chunk, a ping, usage figures). `problem` says why an
    /// event was not understood at all, for the log.
    case ignored(problem: String?)
}

/// Reads the events of one streamed reply.
public protocol ReplyStreamDecoder {
    /// What ends a complete stream (`[DONE]`, `message_stop`), for the error when a stream stops short.
    var endMarker: String { get }
    /// The meaning of `event`. Throws `LLMError.backendError` when the stream reports an error.
    mutating func decode(_ event: SSEEvent) throws(LLMError) -> [StreamItem]
}

/// How much and how freely the model may answer.
public struct GenerationSettings: Sendable, Equatable {
    /// The most tokens in one reply.
    public var maxTokens: Int
    /// Sampling temperature; nil leaves the server's default.
    public var temperature: Double?
    /// Further members of the request body, for one server's own options (llama.cpp's
    /// `repeat_penalty`, ...).
    public var extra: [String: JSONValue]

    public init(maxTokens: Int, temperature: Double? = nil, extra: [String: JSONValue] = [:]) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.extra = extra
    }
}

/// `base` without trailing slashes or a trailing `/v1`, so `http://host:8080`, `http://host:8080/`
/// and `http://host:8080/v1` all name the same API root.
func apiRoot(_ base: String) -> String {
    var root = Substring(base)
    while root.hasSuffix("/") { root = root.dropLast() }
    if root.hasSuffix("/v1") { root = root.dropLast(3) }
    return String(root)
}

extension JSONValue {
    /// Parses a stream event's data as a JSON object, or says why it is not one.
    static func object(from text: String) -> Result<[String: JSONValue], LLMError> {
        do {
            guard case .object(let object) = try JSONValue.parse(Array(text.utf8)) else {
                return .failure(.unreadableEvent("a JSON value that is not an object"))
            }
            return .success(object)
        } catch {
            let excerpt = text.count > 60 ? text.prefix(60) + "…" : Substring(text)
            return .failure(.unreadableEvent("not JSON: \(excerpt.debugDescription)"))
        }
    }
}
