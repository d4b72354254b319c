/// Why a reply could not be had from the model (beyond what `HTTPError` says about the transfer).
public enum LLMError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stream reported an error (Anthropic's `error` event, an OpenAI `{"error": …}` chunk).
    case backendError(String)
    /// The body ended without the end-of-stream marker: the connection was cut midway.
    case streamEnded(expected: String)
    /// The response is not an event stream at all.
    case notAnEventStream(contentType: String)
    /// An event that is not what the API sends (only ever logged; decoding goes on).
    case unreadableEvent(String)
    /// The backend cannot take this kind of prompt.
    case unsupportedPrompt(String)

    public var description: String {
        switch self {
        case .backendError(let message): "the model's server reported an error: \(message)"
        case .streamEnded(let expected): "the reply stream ended before \(expected): the connection was cut"
        case .notAnEventStream(let type): "the server answered with \(type), not a text/event-stream"
        case .unreadableEvent(let reason): "an event that is \(reason)"
        case .unsupportedPrompt(let reason): reason
        }
    }
}
