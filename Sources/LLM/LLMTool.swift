import Logging
import VXNet
import VXShared

/// vx-llm's one entry point: builds the backend (starting the local server if that is the one),
/// the conversation and the stage from a configuration, and runs them.
public final class LLMTool: @unchecked Sendable {
    public let configuration: LLMConfiguration
    public let backend: any LLMBackend
    /// The local server, for `--backend local`.
    public let server: LocalServer?
    private let logger: Logger
    private let lock = Lock()
    private var stage: LLMStage?
    private var stopped = false

    /// Checks what can be checked before any frame is read: the API key, the local server's files.
    /// Throws a `ToolError` (69 when something is missing, naming how to get it).
    public init(configuration: LLMConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let settings = configuration.generation
        switch configuration.backend {
        case .local:
            let defaults = LocalInstall.defaults()
            // Every completion prompt starts with the system text: have the server evaluate it at start.
            let prompts = PromptBuilder(style: configuration.promptStyle, system: configuration.system)
            let server = try LocalServer(configuration: LocalServer.Configuration(
                python: configuration.serverPython ?? defaults.python, model: configuration.gguf ?? defaults.model,
                contextSize: configuration.contextSize, extraArguments: configuration.serverArguments,
                startTimeout: configuration.serverStartTimeout,
                warmUpPrompt: prompts.style == .completion ? prompts.system + "\n" : "Hello"), logger: logger)
            self.server = server
            backend = OpenAIBackend(name: "local", baseURL: server.baseURL, model: configuration.model ?? server.modelName,
                                    apiKey: nil, settings: settings, timeouts: configuration.timeouts)
        case .openai:
            let url = configuration.url ?? LLMConfiguration.defaultOpenAIURL
            let key = try Self.apiKey(configuration.apiKeyVariable ?? "OPENAI_API_KEY", url: url,
                                      requiredBy: "api.openai.com")
            server = nil
            backend = OpenAIBackend(baseURL: url, model: configuration.model ?? LLMConfiguration.defaultOpenAIModel,
                                    apiKey: key, settings: settings, timeouts: configuration.timeouts)
        case .anthropic:
            let url = configuration.url ?? LLMConfiguration.defaultAnthropicURL
            let key = try Self.apiKey(configuration.apiKeyVariable ?? "ANTHROPIC_API_KEY", url: url,
                                      requiredBy: "api.anthropic.com")
            server = nil
            backend = AnthropicBackend(baseURL: url, model: configuration.model ?? LLMConfiguration.defaultAnthropicModel,
                                       apiKey: key, settings: settings, timeouts: configuration.timeouts)
        }
        if let url = configuration.url {
            // Checked now, so a bad URL is a one-line usage error before anything starts.
            do {
                _ = try HTTPEndpoint(url: apiRoot(url) + "/v1")
            } catch {
                throw ToolError.usage("--url: \(error)")
            }
        }
    }

    /// The key from the environment variable `name`; an error if it is unset and `url` is the
    /// hosted API that needs one. Local servers usually need none.
    static func apiKey(_ name: String, url: String, requiredBy host: String) throws -> Secret? {
        if let value = env(name) { return Secret(value) }
        if (try? HTTPEndpoint(url: url))?.host == host {
            throw ToolError.unavailable("\(host) needs an API key: set \(name) (or name another variable with --api-key-env)")
        }
        return nil
    }

    /// Runs the stage until the input ends (or `stop()`); stops the local server on the way out,
    /// whatever happens. `feedback`: the supervisor's `heard` events, when there is such an input.
    public func run(reader: FrameReader, writer: FrameWriter, feedback: FrameReader? = nil) throws {
        defer { server?.stop() }
        let store = try configuration.session.map { try SessionStore(path: $0, logger: logger) }
        let conversation = Conversation(store: store)
        let breaker = CircuitBreaker(
            name: backend.name,
            configuration: .init(failureThreshold: configuration.breakerFailures, coolDown: configuration.breakerCoolDown),
            onStateChange: { [logger, configuration, name = backend.name] _, to in
                switch to {
                case .open:
                    logger.warning("circuit breaker open: the model is not asked again for a while", metadata: [
                        "circuit": "\(name)", "circuit.cooldown_ms": "\(configuration.breakerCoolDown / .milliseconds(1))",
                    ])
                case .halfOpen:
                    logger.notice("circuit breaker half-open: trying the model again", metadata: ["circuit": "\(name)"])
                case .closed:
                    logger.notice("circuit breaker closed: the model answers again", metadata: ["circuit": "\(name)"])
                }
            })
        let streamer = ReplyStreamer(backend: backend, resilience: Resilience(retry: configuration.retryPolicy, breaker: breaker),
                                     logger: logger)
        let prompts = PromptBuilder(style: configuration.promptStyle, system: configuration.system, budget: configuration.budget)
        let stage = LLMStage(streamer: streamer, prompts: prompts, conversation: conversation, reader: reader, writer: writer,
                             feedback: feedback, apology: configuration.apology, beforeTurn: server.map { server in { server.restartIfNeeded() } },
                             logger: logger)
        let alreadyStopped = lock.withLock { () -> Bool in
            self.stage = stage
            return stopped
        }
        if alreadyStopped { return }
        logger.info("ready", metadata: [
            "llm.backend": "\(backend.name)", "llm.model": "\(backend.model)", "llm.prompt": "\(configuration.promptStyle)",
            "session": "\(configuration.session ?? "none")", "session.turns": "\(conversation.turns.count)",
        ])
        try stage.run(prepare: { try server?.start() })
    }

    /// Stops at once (SIGINT/SIGTERM): the reply in flight is cancelled and the local server stopped.
    public func stop() {
        let stage = lock.withLock { () -> LLMStage? in
            stopped = true
            return self.stage
        }
        stage?.stop()
        server?.stop()
    }
}
