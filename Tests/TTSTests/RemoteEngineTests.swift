import Foundation
import Logging
import Testing
import VXNet
import VXShared
@testable import TTS

/// The remote engine against a scripted HTTP server on 127.0.0.1.
@Suite(.serialized) struct RemoteEngineTests {
    let logger = Logger(label: "tts-tests") { _ in SwiftLogNoOpLogHandler() }

    /// 16-bit samples whose bytes are all ASCII (so the fixture can send them).
    static let samples: [Int16] = (0..<1024).map { i in Int16((i % 64) << 8 | (i * 5) % 128) }
    static var pcmBytes: [UInt8] { samples.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] } }

    /// A mono 16-bit WAV at 8 kHz (the header's numbers chosen to be ASCII bytes too).
    static var wav: [UInt8] {
        func u32(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
        let data = pcmBytes
        return Array("RIFF".utf8) + u32(36 + data.count) + Array("WAVEfmt ".utf8) + u32(16)
            + [1, 0, 1, 0] + u32(8_000) + u32(0x3e00) + [2, 0, 16, 0] + Array("data".utf8) + u32(data.count) + data
    }

    func engine(_ server: FakeSpeechServer, format: RemoteEngine.ResponseFormat = .wav, apiKey: Secret? = nil,
                breaker: CircuitBreaker.Configuration = .init(failureThreshold: 5, coolDown: .seconds(60))) -> RemoteEngine {
        RemoteEngine(configuration: RemoteEngine.Configuration(
            baseURL: server.baseURL, model: "tts-test", defaultVoice: "nova", responseFormat: format, pcmRate: 16_000,
            apiKey: apiKey, retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1), maxDelay: .milliseconds(5)),
            breaker: breaker), logger: logger)
    }

    static func speak(_ engine: RemoteEngine, _ text: String = "Hello there.", stop: Cancellation = Cancellation())
        throws -> (Bool, [Int16], Set<Int>) {
        var samples: [Int16] = []
        var rates: Set<Int> = []
        let completed = try engine.synthesize(text, voice: engine.defaultVoice, stop: stop) { piece, rate in
            samples += piece
            rates.insert(rate)
        }
        return (completed, samples, rates)
    }

    @Test func wavReplyGivesItsSamplesAndTheRequestIsOpenAIShaped() throws {
        let server = try FakeSpeechServer(script: [["body": FakeSpeechServer.text(Self.wav)]])
        let (completed, samples, rates) = try Self.speak(engine(server, apiKey: Secret("sk-test-123")), "Hello there.")
        #expect(completed)
        #expect(samples == Self.samples)
        #expect(rates == [8_000])
        let request = try #require(try server.requests().first)
        #expect(request["method"] as? String == "POST")
        #expect(request["path"] as? String == "/v1/audio/speech")
        let json = try #require(request["json"] as? [String: Any])
        #expect(json["model"] as? String == "tts-test")
        #expect(json["input"] as? String == "Hello there.")
        #expect(json["voice"] as? String == "nova")
        #expect(json["response_format"] as? String == "wav")
        #expect((request["authorization"] as? [String: Any])?["present"] as? Bool == true)
    }

    @Test func pcmReplyIsTakenAtTheConfiguredRate() throws {
        let server = try FakeSpeechServer(script: [["body": FakeSpeechServer.text(Self.pcmBytes)]])
        let (completed, samples, rates) = try Self.speak(engine(server, format: .pcm))
        #expect(completed)
        #expect(samples == Self.samples)
        #expect(rates == [16_000])
        #expect((try server.requests().first?["json"] as? [String: Any])?["response_format"] as? String == "pcm")
    }

    @Test func serverErrorIsRetried() throws {
        let server = try FakeSpeechServer(script: [["status": 503], ["body": FakeSpeechServer.text(Self.wav)]])
        let (completed, samples, _) = try Self.speak(engine(server))
        #expect(completed)
        #expect(samples == Self.samples)
        #expect(try server.requests().count == 2)
    }

    @Test func persistentFailureIsARemoteError() throws {
        let server = try FakeSpeechServer(script: ["steps": [], "default": ["status": 500, "body": "boom"]])
        #expect {
            _ = try Self.speak(engine(server))
        } throws: { error in
            guard case TTSError.remote(let reason) = error else { return false }
            return reason.contains("500")
        }
        #expect(try server.requests().count == 3)
    }

    @Test func openBreakerFailsFastWithoutARequest() throws {
        let server = try FakeSpeechServer(script: ["steps": [], "default": ["status": 500]])
        let engine = engine(server, breaker: .init(failureThreshold: 2, coolDown: .seconds(600)))
        #expect(throws: TTSError.self) { _ = try Self.speak(engine) }
        let before = try server.requests().count
        #expect(before == 2, "the breaker opened after two failed attempts")
        #expect(throws: TTSError.self) { _ = try Self.speak(engine) }
        #expect(try server.requests().count == before)
    }

    @Test func badWAVIsARemoteError() throws {
        let server = try FakeSpeechServer(script: [["body": "this is not a wav file"]])
        #expect(throws: TTSError.self) { _ = try Self.speak(engine(server)) }
    }

    @Test func cancellingStopsAWaitingRequest() throws {
        let server = try FakeSpeechServer(script: [["sleep": 30, "body": FakeSpeechServer.text(Self.wav)]])
        let engine = engine(server)
        let stop = Cancellation()
        startThread("canceller") {
            _ = try? server.waitForRequests(1)
            stop.cancel()
        }
        let (completed, samples, _) = try Self.speak(engine, stop: stop)
        #expect(!completed)
        #expect(samples.isEmpty)
    }

    @Test func speechURLDoesNotDoubleV1() {
        func url(_ base: String) -> String { RemoteEngine.Configuration(baseURL: base).speechURL }
        #expect(url("http://h:1") == "http://h:1/v1/audio/speech")
        #expect(url("http://h:1/") == "http://h:1/v1/audio/speech")
        #expect(url("https://api.example.com/v1") == "https://api.example.com/v1/audio/speech")
    }
}

struct WAVReaderTests {
    @Test func stereoIsAveragedToMonoAndOversizedDataRunsToTheEnd() throws {
        func u32(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24 & 0xff)] }
        let frames: [(Int16, Int16)] = [(100, 300), (-1000, 1000), (32767, 32767)]
        let data = frames.flatMap { l, r in [UInt8(truncatingIfNeeded: l), UInt8(truncatingIfNeeded: l >> 8),
                                             UInt8(truncatingIfNeeded: r), UInt8(truncatingIfNeeded: r >> 8)] }
        // A streaming server's header: sizes unknown (0xFFFFFFFF), and a LIST chunk before fmt.
        let file = Array("RIFF".utf8) + u32(0xFFFF_FFFF) + Array("WAVE".utf8) + Array("LIST".utf8) + u32(3) + [1, 2, 3, 0]
            + Array("fmt ".utf8) + u32(16) + [1, 0, 2, 0] + u32(24_000) + u32(96_000) + [4, 0, 16, 0]
            + Array("data".utf8) + u32(0xFFFF_FFFF) + data
        let audio = try WAVReader.decode(file)
        #expect(audio.rate == 24_000)
        #expect(audio.channels == 2)
        var mono: [Int16] = []
        audio.deliverMono { piece, _ in mono += piece }
        #expect(mono == [200, 0, 32767])
    }

    @Test(arguments: [Array("RIFX".utf8), Array("RIFF\u{0}\u{0}\u{0}\u{0}WAVEdata\u{4}\u{0}\u{0}\u{0}abcd".utf8), []])
    func notAUsableWAVIsRefused(file: [UInt8]) {
        #expect(throws: WAVReader.Failure.self) { _ = try WAVReader.decode(file) }
    }
}
