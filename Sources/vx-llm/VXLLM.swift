import ArgumentParser
import Glibc
import LLM
import Synchronization
import VXShared

@main
struct VXLLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vx-llm",
        abstract: "Answer transcripts with a language model: transcript in, the reply streamed out, every frame forwarded.",
        discussion: """
            Each transcript {text} is the user's turn. vx-llm forwards it, asks the model, and writes the reply as \
            it arrives: reply-chunk {text, id, engine_ms} events (pieces of text, as tokens come), then one reply {text, \
            interrupted, id, backend, model, deltas, ttft_ms, total_ms}. Every other frame is forwarded unchanged \
            and in order. An interrupt (barge-in) cancels the request in flight at once: no reply-chunk of that \
            reply follows the forwarded interrupt, and its reply says interrupted: true with the text sent so far, \
            which is also what the history keeps (or the interrupt's optional heard text). Transcripts that come \
            while a reply streams are answered together, after it. Each reply-chunk also carries engine_ms: \
            milliseconds from sending the request to the model until that piece of text came from it.

            --feedback connect:PATH or listen:PATH opens a second input, read on a thread of its own, for a \
            supervisor that knows what the user actually heard of an interrupted reply: a heard {id, text} event \
            there (id: the reply's; the newest reply when left out) replaces that reply in the history, and so in \
            later prompts, by the text heard, marked as interrupted, and the session file records it. Other \
            events there are ignored, nothing on it is forwarded, and when its peer goes away vx-llm goes on.

            --backend local (the default, or $VX_LLM_BACKEND): a llama.cpp server from PyPI's llama-cpp-python, \
            which vx-llm starts itself from the venv .local/llm of the vx checkout (scripts/setup-llm installs it \
            and the model), on 127.0.0.1 and a free port; it health-checks it before the first turn and stops it \
            when it exits (SIGTERM, then SIGKILL after 2 s; the server also dies with vx-llm if vx-llm is killed). \
            The default model, gemma-3-270m (Q4_K_M), is a small BASE model, not tuned to chat: vx-llm prompts it \
            as a text to continue ("User: ...\\nAssistant:") with stop sequences and 64 tokens at most, so it \
            answers briefly, but not wisely. Real conversations want --gguf pointed at an instruction-tuned GGUF \
            (with --chat) or a configured endpoint:

            --backend openai: any OpenAI-compatible server (llama.cpp, llama-cpp-python, Ollama, vLLM, OpenAI), \
            POST --url/v1/chat/completions, streamed; the key from $OPENAI_API_KEY (or --api-key-env), sent only \
            if set. --backend anthropic: Anthropic's Messages API (POST /v1/messages, streamed), the key from \
            $ANTHROPIC_API_KEY. API keys are read from the environment only and never logged.

            The conversation is kept in a JSON-lines session file (mode 0600), so a restarted vx-llm goes on \
            where it stopped; a corrupt line is skipped with a warning. Prompts carry the newest turns that fit \
            --context-budget. Requests are retried (connection refused, 429 after its Retry-After, 5xx, no \
            answer within --timeout) before the first token only, and a circuit breaker stops asking a backend \
            that keeps failing. When the model cannot be reached the reply is a short apology (reply-chunk and \
            reply with error: true) plus an error event {text, code: "llm-unavailable"}, so the user hears \
            something; a reply cut off midway keeps its text and adds an error with code "llm-incomplete". \
            Each reply is logged at info level with its time to first token (llm.ttft_ms), pieces (llm.deltas) \
            and total time.

            Examples:
              echo '{"type":"transcript","data":{"text":"What is the capital of France?"}}' | vx-llm --backend openai --url http://127.0.0.1:8080 | vx-play --text
              vx-capture --device plughw:0 | vx-vad | vx-stt | vx-llm | vx-tts | vx-play
              echo '{"type":"transcript","data":{"text":"Hello"}}' | vx-llm --no-session | vx-play --text
              OPENAI_API_KEY=... vx-llm --backend openai --model gpt-4o-mini --system 'Answer like a pirate.'
              ANTHROPIC_API_KEY=... vx-llm --backend anthropic --model claude-haiku-4-5
              vx-llm --backend openai --url http://127.0.0.1:11434 --model llama3.2   # Ollama
              vx-llm --gguf ~/models/qwen2.5-0.5b-instruct-q4_k_m.gguf --chat
              vx-llm --from listen:/run/user/1000/vx/llm.sock --to connect:/run/user/1000/vx/tts.sock
              vx-llm --from listen:/run/user/1000/vx/llm.sock --feedback listen:/run/user/1000/vx/llm-feedback.sock

            Exit status: 0 done (or stopped by SIGINT/SIGTERM, or the reader closed the pipe), 64 bad usage, \
            65 bad stream data, 66 the --system-file is missing, 69 the local server or model is not installed \
            (run scripts/setup-llm), does not start, or an API key is missing, 74 I/O error (the session file).
            """
    )

    static func main() { runReportingOneLine("vx-llm") }

    @Option(help: ArgumentHelp("local, openai or anthropic. Default: $VX_LLM_BACKEND or local.", valueName: "backend"))
    var backend: LLMConfiguration.Backend?

    @Option(help: ArgumentHelp(
        "API root of the openai or anthropic backend, e.g. http://127.0.0.1:8080 (a trailing /v1 is fine). Default: $VX_LLM_URL, else the vendor's own API.",
        valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp(
        "Model name sent to the server. Default: $VX_LLM_MODEL, else gpt-4o-mini (openai), claude-haiku-4-5 (anthropic), the GGUF's name (local).",
        valueName: "name"))
    var model: String?

    @Option(name: .customLong("api-key-env"), help: ArgumentHelp(
        "Environment variable holding the API key. Default: OPENAI_API_KEY (openai), ANTHROPIC_API_KEY (anthropic).",
        valueName: "name"))
    var apiKeyEnv: String?

    @Flag(help: "Chat messages for the local model too (for an instruction-tuned --gguf). openai and anthropic always chat.")
    var chat = false

    @Flag(help: "A completion prompt (POST /v1/completions) for an openai-compatible server running a base model.")
    var completion = false

    @Option(help: ArgumentHelp("System text: who the assistant is and how it answers.", valueName: "text"))
    var system: String?

    @Option(name: .customLong("system-file"), help: ArgumentHelp("Read the system text from this file.", valueName: "file"))
    var systemFile: String?

    @Option(help: ArgumentHelp(
        "Session file (JSON lines, mode 0600) that keeps the conversation across runs. Default: ${XDG_STATE_HOME:-$HOME/.local/state}/vx/session.jsonl.",
        valueName: "file"))
    var session: String?

    @Flag(name: .customLong("no-session"), help: "Keep the conversation in memory only.")
    var noSession = false

    @Option(name: .customLong("context-budget"), help: ArgumentHelp(
        "Most conversation per prompt (system text, history, the new turn): N characters, or Nt estimated tokens (4 characters each). The oldest turns are dropped first.",
        valueName: "size"))
    var contextBudget = "8000"

    @Option(name: .customLong("max-tokens"), help: ArgumentHelp(
        "Most tokens in a reply. Default: 64 for completion prompts, 300 for chat.", valueName: "n"))
    var maxTokens: Int?

    @Option(help: ArgumentHelp("Sampling temperature. Default: 0.7 for completion prompts, the server's for chat.", valueName: "t"))
    var temperature: Double?

    @Option(help: ArgumentHelp(
        "Seconds to wait for the reply's first byte, and then between bytes, before giving up (or retrying, before the first).",
        valueName: "seconds"))
    var timeout: Double = 30

    @Option(name: .customLong("total-timeout"), help: ArgumentHelp("Seconds a whole reply may take.", valueName: "seconds"))
    var totalTimeout: Double = 120

    @Option(help: ArgumentHelp("Retries of a failed request before its first token (0 for none).", valueName: "n"))
    var retries = 2

    @Option(name: .customLong("breaker-failures"), help: ArgumentHelp(
        "Failed requests in a row after which the backend is not asked for --breaker-cooldown seconds.", valueName: "n"))
    var breakerFailures = 3

    @Option(name: .customLong("breaker-cooldown"), help: ArgumentHelp(
        "Seconds an open circuit breaker answers with the apology at once.", valueName: "seconds"))
    var breakerCooldown: Double = 30

    @Option(help: ArgumentHelp("Said when the model cannot be reached.", valueName: "text"))
    var apology = LLMConfiguration().apology

    @Option(name: .customLong("llm-server-python"), help: ArgumentHelp(
        "Python with llama-cpp-python[server] for --backend local. Default: $VX_LLM_SERVER_PYTHON, else .local/llm/bin/python in the vx checkout.",
        valueName: "path"))
    var serverPython: String?

    @Option(help: ArgumentHelp(
        "GGUF model for --backend local. Default: $VX_LLM_GGUF, else .local/models/gemma-3-270m-q4_k_m.gguf in the vx checkout.",
        valueName: "path"))
    var gguf: String?

    @Option(name: .customLong("context-size"), help: ArgumentHelp("Context window of the local server, in tokens.", valueName: "tokens"))
    var contextSize = 4096

    @Option(name: .customLong("server-arg"), help: ArgumentHelp(
        "An extra argument for the local llama_cpp.server, e.g. --server-arg=--n_threads=2 (repeatable).", valueName: "arg"))
    var serverArguments: [String] = []

    @Option(name: .customLong("server-start-timeout"), help: ArgumentHelp(
        "Seconds the local server may take to load the model and answer.", valueName: "seconds"))
    var serverStartTimeout: Double = 120

    @Option(help: ArgumentHelp(
        "A second input, for the supervisor's feedback: connect:PATH or listen:PATH. Its heard {id, text} events replace a reply in the history by what the user heard of it; nothing on it is forwarded.",
        valueName: "endpoint"))
    var feedback: Endpoint?

    @OptionGroup var endpoints: StageEndpoints
    @OptionGroup var common: CommonOptions

    var chosenBackend: LLMConfiguration.Backend? {
        backend ?? env("VX_LLM_BACKEND").flatMap { LLMConfiguration.Backend(rawValue: $0.lowercased()) } ?? (env("VX_LLM_BACKEND") == nil ? .local : nil)
    }

    func validate() throws {
        guard chosenBackend != nil else {
            throw ValidationError("VX_LLM_BACKEND '\(env("VX_LLM_BACKEND") ?? "")' is not local, openai or anthropic")
        }
        if chat && completion { throw ValidationError("--chat and --completion exclude each other") }
        if system != nil && systemFile != nil { throw ValidationError("--system and --system-file exclude each other") }
        if session != nil && noSession { throw ValidationError("--session and --no-session exclude each other") }
        guard ContextBudget(parsing: contextBudget) != nil else {
            throw ValidationError("--context-budget '\(contextBudget)' is not N (characters) or Nt (estimated tokens)")
        }
        if let maxTokens, !(1...100_000).contains(maxTokens) { throw ValidationError("--max-tokens \(maxTokens) must be 1 to 100000") }
        if let temperature, !(0...2).contains(temperature) { throw ValidationError("--temperature \(temperature) must be 0 to 2") }
        for (value, name) in [(timeout, "--timeout"), (totalTimeout, "--total-timeout"), (breakerCooldown, "--breaker-cooldown"),
                              (serverStartTimeout, "--server-start-timeout")] where !(value > 0 && value <= 86_400) {
            throw ValidationError("\(name) \(value) is not from 0 to 86400 seconds")
        }
        guard (0...10).contains(retries) else { throw ValidationError("--retries \(retries) must be 0 to 10") }
        guard (1...1000).contains(breakerFailures) else { throw ValidationError("--breaker-failures \(breakerFailures) must be 1 to 1000") }
        guard (256...1_048_576).contains(contextSize) else { throw ValidationError("--context-size \(contextSize) must be 256 to 1048576") }
        if feedback == .stdio { throw ValidationError("--feedback takes connect:PATH or listen:PATH, not -") }
        if let problem = llmConfiguration(system: nil).usageProblem { throw ValidationError(problem) }
    }

    func llmConfiguration(system: String?) -> LLMConfiguration {
        var c = LLMConfiguration()
        c.backend = chosenBackend ?? .local
        c.url = url ?? (c.backend == .local ? nil : env("VX_LLM_URL"))
        c.model = model ?? env("VX_LLM_MODEL")
        c.apiKeyVariable = apiKeyEnv
        c.style = chat ? .chat : completion ? .completion : nil
        c.system = system
        c.session = noSession ? nil : session ?? LLMConfiguration.defaultSession
        c.budget = ContextBudget(parsing: contextBudget) ?? .default
        c.maxTokens = maxTokens
        c.temperature = temperature
        c.timeout = .milliseconds(Int64(timeout * 1000))
        c.totalTimeout = .milliseconds(Int64(totalTimeout * 1000))
        c.retries = retries
        c.breakerFailures = breakerFailures
        c.breakerCoolDown = .milliseconds(Int64(breakerCooldown * 1000))
        c.apology = apology
        if c.backend == .local {
            c.serverPython = serverPython ?? env("VX_LLM_SERVER_PYTHON")
            c.gguf = gguf ?? env("VX_LLM_GGUF")
        } else {
            c.serverPython = serverPython
            c.gguf = gguf
        }
        c.contextSize = contextSize
        c.serverArguments = serverArguments
        c.serverStartTimeout = .milliseconds(Int64(serverStartTimeout * 1000))
        return c
    }

    func run() throws {
        let running = RunningTool()
        // The local server gets up to 2 s to stop after SIGTERM before SIGKILL: leave time for it.
        TerminationSignals.install(grace: .seconds(4)) { _ in running.stop() }
        runTool("vx-llm", options: common) { logger in
            var systemText = system
            if let systemFile { systemText = try readText(systemFile) }
            if session == nil && !noSession && LLMConfiguration.defaultSession == nil {
                logger.warning("no HOME or XDG_STATE_HOME: the conversation is not kept across runs")
            }
            let tool = try LLMTool(configuration: llmConfiguration(system: systemText), logger: logger)
            running.set(tool)
            let (reader, writer) = try endpoints.open(options: common, logger: logger)
            let feedbackReader = try feedback.map {
                FrameReader(source: try Transport(logger: logger).source($0), maxPayload: common.maxFrame, logger: logger)
            }
            try tool.run(reader: reader, writer: writer, feedback: feedbackReader)
        }
    }

    /// A whole text file, or a `ToolError` (66) naming it.
    func readText(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ToolError("cannot read --system-file \(path): \(String(cString: strerror(errno)))", exit: .noInput)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try SystemCall.read(fd, into: $0, what: path) }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self).trimming(" \t\r\n")
    }
}

extension LLMConfiguration.Backend: ExpressibleByArgument {}

/// The tool a signal should stop, once there is one.
private final class RunningTool: Sendable {
    private let tool = Mutex<LLMTool?>(nil)
    private let stopped = Mutex(false)

    func set(_ tool: LLMTool) {
        self.tool.withLock { $0 = tool }
        if stopped.withLock({ $0 }) { tool.stop() }
    }

    func stop() {
        stopped.withLock { $0 = true }
        tool.withLock { $0 }?.stop()
    }
}

extension String {
    func trimming(_ set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
