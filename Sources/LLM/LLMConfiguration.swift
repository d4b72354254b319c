import VXNet
import VXShared

/// Everything vx-llm is told on its command line and in its environment, as plain values.
public struct LLMConfiguration: Sendable {
    public enum Backend: String, Sendable, CaseIterable {
        /// A llama.cpp server that vx-llm starts itself (`LocalServer`).
        case local
        /// Any OpenAI-compatible chat-completions server.
        case openai
        /// Anthropic's Messages API.
        case anthropic
    }

    public var backend: Backend = .local
    /// The API root for openai and anthropic; nil for the default (OpenAI's or Anthropic's own).
    public var url: String?
    /// nil for the backend's default.
    public var model: String?
    /// The environment variable holding the API key; nil for the backend's default.
    public var apiKeyVariable: String?
    /// nil: completion for local, chat for the others.
    public var style: PromptStyle?
    /// nil for `PromptBuilder.defaultSystem(for:)`.
    public var system: String?
    /// The session file; nil for none.
    public var session: String?
    public var budget: ContextBudget = .default
    /// nil: 64 for completion prompts (a base model answering briefly), 300 for chat.
    public var maxTokens: Int?
    /// nil: 0.7 for completion prompts, the server's default for chat.
    public var temperature: Double?
    /// The longest wait for the first byte, and then between bytes.
    public var timeout: Duration = .seconds(30)
    /// The longest a whole reply may take.
    public var totalTimeout: Duration = .seconds(120)
    /// Attempts after the first, before any reply text.
    public var retries: Int = 2
    /// Failed attempts in a row that open the circuit breaker.
    public var breakerFailures: Int = 3
    /// How long an open breaker refuses requests.
    public var breakerCoolDown: Duration = .seconds(30)
    /// Said when the model cannot be reached.
    public var apology = "Sorry, I can't reach my language model right now."
    // The local server.
    public var serverPython: String?
    public var gguf: String?
    public var contextSize = 4096
    public var serverArguments: [String] = []
    public var serverStartTimeout: Duration = .seconds(120)

    public init() {}

    public static let defaultOpenAIURL = "https://api.openai.com"
    public static let defaultAnthropicURL = "https://api.anthropic.com"
    public static let defaultOpenAIModel = "gpt-4o-mini"
    public static let defaultAnthropicModel = "claude-haiku-4-5"

    public var promptStyle: PromptStyle { style ?? (backend == .local ? .completion : .chat) }

    public var generation: GenerationSettings {
        let completion = promptStyle == .completion
        var settings = GenerationSettings(maxTokens: maxTokens ?? (completion ? 64 : 300),
                                          temperature: temperature ?? (completion ? 0.7 : nil))
        // llama.cpp's own option: keeps a small base model from looping.
        if backend == .local { settings.extra["repeat_penalty"] = 1.1 }
        return settings
    }

    public var timeouts: HTTPTimeouts {
        HTTPTimeouts(connect: .seconds(5), idle: timeout, total: totalTimeout)
    }

    public var retryPolicy: RetryPolicy {
        RetryPolicy(maxAttempts: retries + 1, initialDelay: .milliseconds(250), maxDelay: .seconds(2), jitter: 0.2,
                    deadline: .seconds(10))
    }

    /// The default session file: `${XDG_STATE_HOME:-$HOME/.local/state}/vx/session.jsonl`.
    public static var defaultSession: String? {
        if let state = env("XDG_STATE_HOME") { return state + "/vx/session.jsonl" }
        return env("HOME").map { $0 + "/.local/state/vx/session.jsonl" }
    }

    /// Problems a user must fix before anything starts, as a usage message; nil when there are none.
    public var usageProblem: String? {
        if backend == .anthropic && style == .completion {
            return "--completion does not go with --backend anthropic: its Messages API takes chat prompts only"
        }
        if backend != .local && (serverPython != nil || gguf != nil || !serverArguments.isEmpty) {
            return "--llm-server-python, --gguf and --server-arg are for --backend local"
        }
        if backend == .local && url != nil {
            return "--url is for --backend openai or anthropic; --backend local starts its own llama.cpp server (point --gguf at another model)"
        }
        return nil
    }
}
