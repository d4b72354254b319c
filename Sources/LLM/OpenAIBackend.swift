import VXNet
import VXShared

/// Any server with OpenAI's API: `POST /v1/chat/completions` for chat prompts and
/// `POST /v1/completions` for completion prompts, both with `"stream": true`. llama.cpp's server,
/// llama-cpp-python's, Ollama, vLLM and OpenAI itself all speak it.
public struct OpenAIBackend: LLMBackend {
    public let name: String
    public let model: String
    public let baseURL: String
    public let apiKey: Secret?
    public let settings: GenerationSettings
    public let timeouts: HTTPTimeouts

    /// - Parameters:
    ///   - name: "openai", or "local" for the llama.cpp server vx-llm runs itself.
    ///   - baseURL: the API root, e.g. `http://127.0.0.1:8080` (a trailing `/v1` is accepted).
    ///   - apiKey: sent as `Authorization: Bearer`; nil for servers without keys.
    public init(name: String = "openai", baseURL: String, model: String, apiKey: Secret?,
                settings: GenerationSettings, timeouts: HTTPTimeouts) {
        self.name = name
        self.baseURL = baseURL
        self.model = model
        self.apiKey = apiKey
        self.settings = settings
        self.timeouts = timeouts
    }

    public func request(for prompt: Prompt) throws(LLMError) -> HTTPRequest {
        var body: [String: JSONValue] = ["model": .string(model), "stream": true]
        let path: String
        switch prompt {
        case .chat(let system, let messages):
            path = "/v1/chat/completions"
            var list: [JSONValue] = system.isEmpty ? [] : [["role": "system", "content": .string(system)]]
            list += messages.map { ["role": .string($0.role.rawValue), "content": .string($0.content)] }
            body["messages"] = .array(list)
            // OpenAI's own API takes max_completion_tokens (its newer models refuse max_tokens);
            // other servers know max_tokens.
            body[isOpenAIItself ? "max_completion_tokens" : "max_tokens"] = .int(Int64(settings.maxTokens))
        case .completion(let text, let stop):
            path = "/v1/completions"
            body["prompt"] = .string(text)
            body["stop"] = .array(stop.map { .string($0) })
            body["max_tokens"] = .int(Int64(settings.maxTokens))
        }
        if let temperature = settings.temperature { body["temperature"] = .double(temperature) }
        body.merge(settings.extra) { _, extra in extra }

        var headers = HTTPHeaders()
        headers.set("Accept", "text/event-stream")
        if let apiKey { headers.setBearer(apiKey) }
        return .postJSON(url: apiRoot(baseURL) + path, json: JSONValue.object(body).jsonText, headers: headers,
                         timeouts: timeouts)
    }

    private var isOpenAIItself: Bool { (try? HTTPEndpoint(url: baseURL))?.host == "api.openai.com" }

    public func makeDecoder() -> any ReplyStreamDecoder { OpenAIStreamDecoder() }
}

/// Reads OpenAI's stream: `data: {chunk}` events, then `data: [DONE]`. A chat chunk carries text in
/// `choices[0].delta.content`, a completion chunk in `choices[0].text`. Some servers send an
/// `{"error": {...}}` chunk when generation fails midway.
public struct OpenAIStreamDecoder: ReplyStreamDecoder {
    public let endMarker = "[DONE]"

    public init() {}

    public mutating func decode(_ event: SSEEvent) throws(LLMError) -> [StreamItem] {
        if event.isDone { return [.end] }
        if event.type == "error" { throw .backendError(Self.message(in: event.data)) }
        let chunk: [String: JSONValue]
        switch JSONValue.object(from: event.data) {
        case .success(let object): chunk = object
        case .failure(let error): return [.ignored(problem: error.description)]
        }
        if let error = chunk["error"] { throw .backendError(Self.message(of: error)) }
        guard let choice = chunk["choices"].flatMap({ if case .array(let a) = $0 { a.first } else { nil } }) else {
            // Usage figures and other choice-less chunks.
            return [.ignored(problem: nil)]
        }
        var items: [StreamItem] = []
        if let text = choice["delta"]?["content"]?.string ?? choice["text"]?.string, !text.isEmpty {
            items.append(.delta(text))
        }
        // A finish reason ends the reply; [DONE] may follow, or (some servers) not.
        if let reason = choice["finish_reason"], reason != .null { items.append(.end) }
        return items.isEmpty ? [.ignored(problem: nil)] : items
    }

    static func message(in data: String) -> String {
        switch JSONValue.object(from: data) {
        case .success(let object): message(of: object["error"] ?? .object(object))
        case .failure: data.count > 200 ? String(data.prefix(200)) + "…" : data
        }
    }

    static func message(of error: JSONValue) -> String {
        if let text = error.string { return text }
        return error["message"]?.string ?? error["type"]?.string ?? error.jsonText
    }
}
