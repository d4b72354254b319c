import Logging
import VXNet
import VXShared

/// Speech-to-text by any server with OpenAI's transcription API (`POST {base}/v1/audio/transcriptions`):
/// whisper.cpp's server, faster-whisper servers, OpenAI itself.
///
/// The utterance's audio is kept in memory and sent as one WAV file when it ends: `finish()`
/// posts a multipart form (`file`, `model`, `response_format=json`) and returns the reply's
/// `text`. There are no partial results. Requests go through the configuration's retry policy
/// and circuit breaker; the breaker lives as long as the transcriber, so while the server is
/// down later utterances fail at once instead of each waiting out its retries.
public final class RemoteTranscriber: Transcriber {
    public struct Configuration: Sendable {
        /// The server's base URL, e.g. `http://127.0.0.1:8080` or `https://api.openai.com`
        /// (a trailing `/v1` is accepted too).
        public var baseURL: String
        /// The `model` form field, e.g. `whisper-1`.
        public var model: String
        /// Sent as `Authorization: Bearer`; nil for servers without keys.
        public var apiKey: Secret?
        /// Limits for each request.
        public var timeouts: HTTPTimeouts
        /// Retries and the circuit breaker for this server.
        public var resilience: Resilience

        public init(
            baseURL: String,
            model: String = "whisper-1",
            apiKey: Secret? = nil,
            timeouts: HTTPTimeouts = HTTPTimeouts(connect: .seconds(5), idle: .seconds(30), total: .seconds(30)),
            resilience: Resilience
        ) {
            self.baseURL = baseURL
            self.model = model
            self.apiKey = apiKey
            self.timeouts = timeouts
            self.resilience = resilience
        }

        /// Where the audio is posted.
        public var transcriptionsURL: String {
            var base = Substring(baseURL)
            while base.hasSuffix("/") { base = base.dropLast() }
            if base.hasSuffix("/v1") { base = base.dropLast(3) }
            return base + "/v1/audio/transcriptions"
        }
    }

    public let name = "remote"
    public let supportsPartials = false
    public let configuration: Configuration

    private let client: HTTPClient
    private let logger: Logger
    private let clock: any MonotonicClock
    private var samples: [Int16] = []

    /// - Parameters:
    ///   - client: the HTTP client (one is made if nil).
    ///   - clock: measures and waits out retry backoff (a `ManualClock` in tests).
    public init(configuration: Configuration, logger: Logger, client: HTTPClient? = nil, clock: any MonotonicClock = SystemClock()) {
        self.configuration = configuration
        self.logger = logger
        self.client = client ?? HTTPClient(logger: logger)
        self.clock = clock
    }

    public func start() throws {
        samples.removeAll(keepingCapacity: true)
    }

    public func feed(_ samples: UnsafeBufferPointer<Int16>) throws {
        self.samples.append(contentsOf: samples)
    }

    public func partial() -> String? { nil }

    /// Sends the utterance and returns its text ("" for no audio, without a request).
    /// Throws a `ToolError` (unavailable) whose message is one line.
    public func finish() throws -> String {
        defer { samples.removeAll(keepingCapacity: true) }
        guard !samples.isEmpty else { return "" }
        var headers = HTTPHeaders()
        if let key = configuration.apiKey { headers.setBearer(key) }
        let request = HTTPRequest(method: "POST", url: configuration.transcriptionsURL, headers: headers, body: .multipart([
            .file("file", filename: "utterance.wav", contentType: "audio/wav", data: Self.wav(samples, rate: AudioFormat.pipeline.rate)),
            .field("model", configuration.model),
            .field("response_format", "json"),
        ]), timeouts: configuration.timeouts)

        let started = clock.now
        do {
            let text = try configuration.resilience.run(logger: logger, clock: clock) { _ in
                let response = try client.send(request)
                return try Self.text(of: response, from: request.url)
            }
            let (seconds, attoseconds) = (clock.now - started).components
            logger.debug("remote transcription done", metadata: [
                "stt.audio_ms": "\(samples.count * 1000 / AudioFormat.pipeline.rate)",
                "stt.request_ms": "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)",
            ])
            return text
        } catch {
            throw ToolError.unavailable("remote speech-to-text failed: \(error)")
        }
    }

    /// The `text` member of a JSON reply, without surrounding white space (whisper starts it with
    /// a space).
    static func text(of response: HTTPResponse, from url: String) throws -> String {
        func malformed(_ reason: String) throws -> Never {
            throw HTTPError.malformedResponse(try HTTPEndpoint(url: url), reason: reason)
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(response.body)
        } catch {
            try malformed("the reply is \(error.reason), not a JSON object with \"text\"")
        }
        guard let text = json["text"]?.string else { try malformed("the JSON reply has no \"text\" string") }
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
              let last = text.lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(text[first...last])
    }

    /// A 16-bit mono PCM WAV file holding `samples`.
    static func wav(_ samples: [Int16], rate: Int) -> [UInt8] {
        let dataBytes = samples.count * 2
        var out: [UInt8] = []
        out.reserveCapacity(44 + dataBytes)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { out += $0 } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { out += $0 } }
        out += Array("RIFF".utf8); u32(36 + dataBytes); out += Array("WAVE".utf8)
        out += Array("fmt ".utf8); u32(16); u16(1); u16(1); u32(rate); u32(rate * 2); u16(2); u16(16)
        out += Array("data".utf8); u32(dataBytes)
        for sample in samples { u16(Int(sample)) }
        return out
    }
}
