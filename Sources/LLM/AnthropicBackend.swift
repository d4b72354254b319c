import VXNet
import VXShared

/// Anthropic's Messages API: `POST /v1/messages` with `"stream": true`, the key in `x-api-key` and
/// `anthropic-version: 2023-06-01`. Chat prompts only.
public struct AnthropicBackend: LLMBackend {
    public static let version = "2023-06-01"

    public let name = "anthropic"
    public let model: String
    public let baseURL: String
    public let apiKey: Secret?
    public let settings: GenerationSettings
    public let timeouts: HTTPTimeouts

    public init(baseURL: String = "https://api.anthropic.com", model: String, apiKey: Secret?,
                settings: GenerationSettings, timeouts: HTTPTimeouts) {
        self.baseURL = baseURL
        self.model = model
        self.apiKey = apiKey
        self.settings = settings
        self.timeouts = timeouts
    }

    public func request(for prompt: Prompt) throws(LLMError) -> HTTPRequest {
        guard case .chat(let system, let messages) = prompt else {
            throw .unsupportedPrompt("the Anthropic Messages API takes chat prompts only")
        }
        var body: [String: JSONValue] = [
            "model": .string(model),
            "max_tokens": .int(Int64(settings.maxTokens)),
            "stream": true,
            "messages": .array(messages.map { ["role": .string($0.role.rawValue), "content": .string($0.content)] }),
        ]
        if !system.isEmpty { body["system"] = .string(system) }
        if let temperature = settings.temperature { body["temperature"] = .double(temperature) }
        body.merge(settings.extra) { _, extra in extra }

        var headers = HTTPHeaders()
        headers.set("Accept", "text/event-stream")
        headers.set("anthropic-version", Self.version)
        if let apiKey { headers.set("x-api-key", apiKey.value) }
        return .postJSON(url: apiRoot(baseURL) + "/v1/messages", json: JSONValue.object(body).jsonText,
                         headers: headers, timeouts: timeouts)
    }

    public func makeDecoder() -> any ReplyStreamDecoder { AnthropicStreamDecoder() }
}

/// Reads Anthropic's stream: `message_start`, then per content block `content_block_start`,
/// `content_block_delta`s (text in `text_delta`s) and `content_block_stop`, then `message_delta`
/// (the stop reason) and `message_stop`. `ping`s may come at any time, and an `error` event
/// (`overloaded_error`, ...) ends a failed stream.
public struct AnthropicStreamDecoder: ReplyStreamDecoder {
    public let endMarker = "message_stop"

    public init() {}

    public mutating func decode(_ event: SSEEvent) throws(LLMError) -> [StreamItem] {
        let body: [String: JSONValue]
        switch JSONValue.object(from: event.data) {
        case .success(let object): body = object
        case .failure(let error):
            if event.type == "error" { throw .backendError(event.data) }
            return [.ignored(problem: error.description)]
        }
        // The event name, or the data's own "type" when the server sent no `event:` line.
        let type = event.type == "message" ? body["type"]?.string ?? "" : event.type
        switch type {
        case "content_block_delta":
            guard body["delta"]?["type"]?.string == "text_delta" else { return [.ignored(problem: nil)] }
            guard let text = body["delta"]?["text"]?.string else {
                return [.ignored(problem: "a text_delta without text")]
            }
            return text.isEmpty ? [.ignored(problem: nil)] : [.delta(text)]
        case "content_block_start":
            if let text = body["content_block"]?["text"]?.string, !text.isEmpty { return [.delta(text)] }
            return [.ignored(problem: nil)]
        case "message_stop":
            return [.end]
        case "error":
            let error = body["error"]
            let message = error?["message"]?.string ?? error?["type"]?.string ?? event.data
            if let kind = error?["type"]?.string, kind != message { throw .backendError("\(kind): \(message)") }
            throw .backendError(message)
        case "message_start", "message_delta", "content_block_stop", "ping":
            return [.ignored(problem: nil)]
        default:
            // New event types may appear; Anthropic's versioning policy says to ignore them.
            return [.ignored(problem: nil)]
        }
    }
}
