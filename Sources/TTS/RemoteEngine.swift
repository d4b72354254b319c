import Logging
import VXNet
import VXShared

/// Speech from any OpenAI-compatible service: `POST {base}/v1/audio/speech` with
/// `{"model", "input", "voice", "response_format"}`, answered with a WAV file (16-bit PCM, any
/// rate and channel count) or raw 16-bit little-endian mono PCM at a known rate.
///
/// Requests go through `VXNet`: retried with backoff while the failure is worth retrying (no
/// connection, 429, 5xx), refused at once while the circuit breaker is open, and cancelled at once
/// by the text's `Cancellation` (an interrupt). A failure is thrown as `TTSError.remote`; the stage
/// reports it as an `error` event and goes on.
public final class RemoteEngine: SpeechEngine, Sendable {
    public enum ResponseFormat: String, Sendable, CaseIterable {
        case wav, pcm
    }

    public struct Configuration: Sendable {
        /// The service's base URL (`http://host:port` or `.../v1`).
        public var baseURL: String
        public var model: String
        public var defaultVoice: String
        public var responseFormat: ResponseFormat
        /// The sample rate of `pcm` responses (OpenAI's is 24 000 Hz).
        public var pcmRate: Int
        public var apiKey: Secret?
        public var timeouts: HTTPTimeouts
        public var retry: RetryPolicy
        public var breaker: CircuitBreaker.Configuration

        public init(baseURL: String, model: String = "tts-1", defaultVoice: String = "alloy",
                    responseFormat: ResponseFormat = .wav, pcmRate: Int = 24_000, apiKey: Secret? = nil,
                    timeouts: HTTPTimeouts = HTTPTimeouts(connect: .seconds(3), idle: .seconds(15), total: .seconds(60)),
                    retry: RetryPolicy = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(200), maxDelay: .seconds(2),
                                                     deadline: .seconds(10)),
                    breaker: CircuitBreaker.Configuration = CircuitBreaker.Configuration(failureThreshold: 3, coolDown: .seconds(10))) {
            self.baseURL = baseURL
            self.model = model
            self.defaultVoice = defaultVoice
            self.responseFormat = responseFormat
            self.pcmRate = pcmRate
            self.apiKey = apiKey
            self.timeouts = timeouts
            self.retry = retry
            self.breaker = breaker
        }

        /// `{base}/v1/audio/speech`, without doubling a `/v1` the base already has.
        public var speechURL: String {
            var base = Substring(baseURL)
            while base.hasSuffix("/") { base = base.dropLast() }
            return base.hasSuffix("/v1") ? "\(base)/audio/speech" : "\(base)/v1/audio/speech"
        }
    }

    public let name = "remote"
    public let configuration: Configuration
    public var defaultVoice: String { configuration.defaultVoice }
    private let client: HTTPClient
    private let resilience: Resilience
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger, clock: some MonotonicClock = SystemClock()) {
        self.configuration = configuration
        self.logger = logger
        client = HTTPClient(logger: logger)
        resilience = Resilience(
            retry: configuration.retry,
            breaker: CircuitBreaker(name: "tts-remote", configuration: configuration.breaker, clock: clock) { from, to in
                logger.notice("remote speech circuit changed", metadata: ["circuit.from": "\(from)", "circuit.to": "\(to)"])
            })
    }

    /// Any voice name goes: only the service knows its voices.
    public func checkVoice(_ voice: String) throws {
        guard !voice.isEmpty else { throw TTSError.unknownVoice(engine: name, voice: voice, known: "give a voice name") }
    }

    public func synthesize(_ text: String, voice: String, stop: Cancellation, sink: AudioSink) throws -> Bool {
        guard !stop.isCancelled else { return false }
        var headers = HTTPHeaders()
        if let apiKey = configuration.apiKey { headers.setBearer(apiKey) }
        let body = JSONValue.object([
            "model": .string(configuration.model), "input": .string(text), "voice": .string(voice),
            "response_format": .string(configuration.responseFormat.rawValue),
        ])
        let request = HTTPRequest.postJSON(url: configuration.speechURL, json: body.jsonText, headers: headers,
                                           timeouts: configuration.timeouts)
        let response: HTTPResponse
        do {
            response = try client.send(request, resilience: resilience, cancellation: stop)
        } catch {
            if stop.isCancelled { return false }
            throw TTSError.remote(reason: "\(error)")
        }
        let audio: DecodedAudio
        switch configuration.responseFormat {
        case .pcm:
            audio = DecodedAudio(rate: configuration.pcmRate, channels: 1, bytes: response.body[...])
        case .wav:
            do {
                audio = try WAVReader.decode(response.body)
            } catch {
                throw TTSError.remote(reason: "bad WAV from \(configuration.speechURL): \(error.reason)")
            }
        }
        guard !stop.isCancelled else { return false }
        audio.deliverMono(to: sink)
        return true
    }
}

/// 16-bit little-endian PCM taken from a response body.
struct DecodedAudio {
    var rate: Int
    var channels: Int
    var bytes: ArraySlice<UInt8>

    /// Hands the samples to `sink`, channels averaged to mono, in pieces of 20 ms.
    func deliverMono(to sink: AudioSink) {
        let frameBytes = 2 * channels
        let frames = bytes.count / frameBytes
        let piece = max(rate / 50, 1)
        var mono = [Int16](repeating: 0, count: piece)
        var frame = 0
        let base = bytes.startIndex
        while frame < frames {
            let n = min(piece, frames - frame)
            for f in 0..<n {
                var sum = 0
                for c in 0..<channels {
                    let o = base + (frame + f) * frameBytes + 2 * c
                    sum += Int(Int16(bitPattern: UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8))
                }
                mono[f] = Int16(sum / channels)
            }
            mono.withUnsafeBufferPointer { sink(UnsafeBufferPointer(rebasing: $0[0..<n]), rate) }
            frame += n
        }
    }
}

/// Reads the PCM out of a RIFF/WAVE file: 16-bit integer PCM only. A `data` chunk whose length
/// is missing or too big (as streaming servers write it) runs to the end of the file.
enum WAVReader {
    struct Failure: Error {
        var reason: String
    }

    static func decode(_ file: [UInt8]) throws(Failure) -> DecodedAudio {
        func u32(_ o: Int) -> Int { Int(file[o]) | Int(file[o + 1]) << 8 | Int(file[o + 2]) << 16 | Int(file[o + 3]) << 24 }
        func u16(_ o: Int) -> Int { Int(file[o]) | Int(file[o + 1]) << 8 }
        guard file.count >= 12, file[0..<4].elementsEqual("RIFF".utf8), file[8..<12].elementsEqual("WAVE".utf8) else {
            throw Failure(reason: "not a RIFF/WAVE file (\(file.count) bytes)")
        }
        var offset = 12
        var format: (rate: Int, channels: Int)?
        while offset + 8 <= file.count {
            let id = file[offset..<offset + 4]
            let size = u32(offset + 4)
            let body = offset + 8
            if id.elementsEqual("fmt ".utf8) {
                guard size >= 16, body + 16 <= file.count else { throw Failure(reason: "short fmt chunk") }
                let tag = u16(body), channels = u16(body + 2), rate = u32(body + 4), bits = u16(body + 14)
                guard tag == 1 || tag == 0xFFFE, bits == 16 else {
                    throw Failure(reason: "only 16-bit PCM is supported (format \(tag), \(bits) bits)")
                }
                guard channels >= 1, rate >= 1 else { throw Failure(reason: "fmt chunk says \(channels) channels at \(rate) Hz") }
                format = (rate, channels)
            } else if id.elementsEqual("data".utf8) {
                guard let format else { throw Failure(reason: "data chunk before fmt chunk") }
                let end = size > file.count - body ? file.count : body + size
                let usable = (end - body) / (2 * format.channels) * (2 * format.channels)
                return DecodedAudio(rate: format.rate, channels: format.channels, bytes: file[body..<body + usable])
            }
            offset = body + size + (size & 1)
        }
        throw Failure(reason: "no data chunk")
    }
}
