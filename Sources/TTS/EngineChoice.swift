import Logging
import VXNet
import VXShared

/// The engines `--engine` chooses from.
public enum EngineChoice: String, Sendable, CaseIterable {
    case flite, espeak, remote

    /// The engine, ready to speak. Throws `ToolError`: unavailable (69) when espeak-ng cannot
    /// start, usage (64) for bad remote settings.
    public func makeEngine(remote: RemoteSettings, logger: Logger) throws -> any SpeechEngine {
        switch self {
        case .flite:
            return FliteEngine.shared
        case .espeak:
            do {
                return try ESpeakEngine.shared()
            } catch {
                throw ToolError.unavailable("\(error)")
            }
        case .remote:
            if let problem = remote.problem { throw ToolError.usage(problem) }
            return RemoteEngine(configuration: remote.configuration, logger: logger)
        }
    }
}

/// The remote engine's settings as the command line gives them.
public struct RemoteSettings: Sendable {
    public var url: String?
    public var model: String
    public var format: String
    public var pcmRate: Int
    public var timeoutSeconds: Double
    /// The environment variable holding the API key.
    public var apiKeyVariable: String

    public init(url: String?, model: String = "tts-1", format: String = "wav", pcmRate: Int = 24_000,
                timeoutSeconds: Double = 30, apiKeyVariable: String = "VX_TTS_API_KEY") {
        self.url = url
        self.model = model
        self.format = format
        self.pcmRate = pcmRate
        self.timeoutSeconds = timeoutSeconds
        self.apiKeyVariable = apiKeyVariable
    }

    /// What is wrong with the settings, in words for a usage error; nil when they are usable.
    public var problem: String? {
        guard let url else { return "--engine remote needs --remote-url" }
        do { _ = try HTTPEndpoint(url: url) } catch { return "--remote-url: \(error)" }
        return formatProblem
    }

    /// What is wrong with the settings that do not need a URL.
    public var formatProblem: String? {
        if RemoteEngine.ResponseFormat(rawValue: format) == nil { return "--remote-format is wav or pcm, not '\(format)'" }
        if !(8_000...192_000).contains(pcmRate) { return "--remote-pcm-rate \(pcmRate) must be 8000 to 192000 Hz" }
        if !(timeoutSeconds > 0 && timeoutSeconds <= 3600) { return "--remote-timeout must be more than 0 and at most 3600 seconds" }
        return nil
    }

    public var configuration: RemoteEngine.Configuration {
        let total = Duration.milliseconds(Int64(timeoutSeconds * 1000))
        return RemoteEngine.Configuration(
            baseURL: url ?? "", model: model, responseFormat: RemoteEngine.ResponseFormat(rawValue: format) ?? .wav,
            pcmRate: pcmRate, apiKey: env(apiKeyVariable).map(Secret.init),
            timeouts: HTTPTimeouts(connect: .seconds(3), idle: min(total, .seconds(15)), total: total),
            retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(200), maxDelay: .seconds(2), deadline: total))
    }
}
