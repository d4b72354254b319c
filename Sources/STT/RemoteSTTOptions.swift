import ArgumentParser
import Logging
import VXNet
import VXShared

/// vx-stt's options for the remote engine (`--engine remote`): an OpenAI-compatible
/// transcription server.
public struct RemoteSTTOptions: ParsableArguments {
    @Option(name: .customLong("url"), help: ArgumentHelp(
        "Base URL of an OpenAI-compatible speech-to-text server (whisper.cpp, faster-whisper, OpenAI); audio is posted to <url>/v1/audio/transcriptions. Default: $VX_STT_URL.",
        valueName: "url"))
    public var url: String?

    @Option(name: .customLong("model"), help: ArgumentHelp(
        "Model the remote server should use. Default: $VX_STT_MODEL or \(Self.defaultModel).", valueName: "name"))
    public var model: String?

    @Option(name: .customLong("api-key-env"), help: ArgumentHelp(
        "Environment variable holding the remote server's API key, sent as a bearer token and never logged. Default: \(Self.defaultKeyVariable), and no key if that is unset.",
        valueName: "name"))
    public var apiKeyVariable: String?

    @Option(name: .customLong("timeout"), help: ArgumentHelp(
        "Seconds one remote request may take; no retry starts after this long either.", valueName: "seconds"))
    public var timeout: Double = 30

    @Option(name: .customLong("retries"), help: ArgumentHelp(
        "Times a failed remote request is tried again (no connection, timeouts, 429 and 5xx replies).", valueName: "n"))
    public var retries: Int = 2

    public static let defaultModel = "whisper-1"
    public static let defaultKeyVariable = "OPENAI_API_KEY"

    public init() {}

    public func validate() throws {
        guard timeout.isFinite, timeout > 0, timeout <= 3600 else {
            throw ValidationError("--timeout \(timeout) is not between 0 and 3600 seconds")
        }
        guard (0...10).contains(retries) else { throw ValidationError("--retries \(retries) is not between 0 and 10") }
        if let url {
            do { _ = try HTTPEndpoint(url: url) } catch { throw ValidationError("--url: \(error)") }
        }
        if let name = apiKeyVariable, name.isEmpty || name.contains("=") {
            throw ValidationError("--api-key-env '\(name)' is not an environment variable name")
        }
    }

    /// `--url`, else `$VX_STT_URL`.
    public var baseURL: String? { url ?? env("VX_STT_URL") }

    /// `--model`, else `$VX_STT_MODEL`, else whisper-1.
    public var modelName: String { model ?? env("VX_STT_MODEL") ?? Self.defaultModel }

    /// The API key from the variable `--api-key-env` names. A variable named explicitly must be
    /// set; the default one may be unset (local servers need no key).
    public func apiKey() throws(ToolError) -> Secret? {
        let name = apiKeyVariable ?? Self.defaultKeyVariable
        if let value = env(name) { return Secret(value) }
        if apiKeyVariable != nil { throw .usage("--api-key-env names \(name), which is not set") }
        return nil
    }

    /// The retry policy: `retries` more attempts from 250 ms, doubling up to 2 s, none started
    /// after `timeout`.
    public var retryPolicy: RetryPolicy {
        RetryPolicy(maxAttempts: retries + 1, initialDelay: .milliseconds(250), maxDelay: .seconds(2),
                    deadline: .milliseconds(Int64(timeout * 1000)))
    }

    /// The per-request limits: `timeout` in all and without data, at most 5 s to connect.
    public var timeouts: HTTPTimeouts {
        let limit = Duration.milliseconds(Int64(timeout * 1000))
        return HTTPTimeouts(connect: min(limit, .seconds(5)), idle: limit, total: limit)
    }

    /// Builds the remote engine, with its own circuit breaker (5 failed requests in a row open it
    /// for 5 s). Call it once per process so the breaker is kept across utterances. Throws a
    /// usage `ToolError` when no URL is given or a named key variable is unset.
    public func makeTranscriber(logger: Logger, breakerClock: any MonotonicClock = SystemClock()) throws -> RemoteTranscriber {
        guard let baseURL else { throw ToolError.usage("the remote engine needs --url or VX_STT_URL") }
        var configuration = RemoteTranscriber.Configuration(baseURL: baseURL, model: modelName, apiKey: try apiKey(),
                                                            timeouts: timeouts, resilience: Resilience())
        let endpoint: HTTPEndpoint
        do {
            endpoint = try HTTPEndpoint(url: configuration.transcriptionsURL)
        } catch {
            throw ToolError.usage("\(url == nil ? "VX_STT_URL" : "--url"): \(error)")
        }
        let breaker = CircuitBreaker(name: "speech-to-text at \(endpoint)", clock: breakerClock) { _, to in
            switch to {
            case .open: logger.warning("speech-to-text server failing; circuit open", metadata: ["stt.endpoint": "\(endpoint)"])
            case .halfOpen: logger.info("trying the speech-to-text server again", metadata: ["stt.endpoint": "\(endpoint)"])
            case .closed: logger.notice("speech-to-text server back; circuit closed", metadata: ["stt.endpoint": "\(endpoint)"])
            }
        }
        configuration.resilience = Resilience(retry: retryPolicy, breaker: breaker)
        logger.debug("remote speech-to-text", metadata: [
            "stt.endpoint": "\(endpoint)", "stt.model": "\(modelName)", "stt.key": "\(configuration.apiKey == nil ? "none" : "set")",
        ])
        return RemoteTranscriber(configuration: configuration, logger: logger)
    }
}
