import ArgumentParser
import Foundation
import Logging
import Synchronization
import Testing
import VXNet
import VXShared
@testable import STT

/// The remote engine against the real fixture server process (Tests/Fixtures/fake_engine_server.py).
struct RemoteTranscriberTests {
    static let key = "sk-stt-test-9f2KqLm0Z"
    let logs = RemoteLogStore()

    /// No real waiting: retries back off on a ManualClock.
    func transcriber(_ server: RemoteEngineServer, attempts: Int = 1, breaker: CircuitBreaker? = nil,
                     baseSuffix: String = "") -> RemoteTranscriber {
        let retry = RetryPolicy(maxAttempts: attempts, initialDelay: .milliseconds(100), maxDelay: .milliseconds(100), jitter: 0)
        let configuration = RemoteTranscriber.Configuration(
            baseURL: server.baseURL + baseSuffix, model: "whisper-1", apiKey: Secret(Self.key),
            timeouts: HTTPTimeouts(connect: .seconds(5), idle: .seconds(20), total: .seconds(20)),
            resilience: Resilience(retry: retry, breaker: breaker ?? CircuitBreaker(name: "stt", clock: ManualClock())))
        return RemoteTranscriber(configuration: configuration, logger: logs.logger, clock: ManualClock())
    }

    func utterance(_ engine: RemoteTranscriber, _ chunks: [Int16]...) throws -> String {
        try engine.start()
        for chunk in chunks { try chunk.withUnsafeBufferPointer { try engine.feed($0) } }
        return try engine.finish()
    }

    static func tone(_ count: Int) -> [Int16] {
        (0..<count).map { Int16(clamping: Int(12_000 * sin(Double($0) * 2 * .pi * 440 / 16_000))) }
    }

    @Test func postsTheUtteranceAsAWAVAndReturnsTheText() throws {
        let server = try RemoteEngineServer(script: #"[{"json": {"text": " go forward ten meters\n"}}]"#)
        let engine = transcriber(server, baseSuffix: "/v1/")
        #expect(engine.name == "remote" && !engine.supportsPartials && engine.partial() == nil)
        let first = Self.tone(16_000), second = Self.tone(7_999)
        #expect(try utterance(engine, first, second) == "go forward ten meters")

        let request = try #require(try server.requests().first)
        #expect(request.method == "POST" && request.path == "/v1/audio/transcriptions")
        #expect(request.fields == ["model": "whisper-1", "response_format": "json"])
        #expect(request.authorization.present)
        #expect(request.authorization.sha256 == (try RemoteEngineServer.sha256("Bearer \(Self.key)")))
        let file = try #require(request.files?["file"])
        #expect(file.filename == "utterance.wav" && file.content_type == "audio/wav")
        let wav = try #require(Data(base64Encoded: file.base64).map(Array.init))
        let format = try #require(WAVHeader(wav))
        #expect(format.channels == 1 && format.rate == 16_000 && format.bits == 16)
        #expect(format.dataBytes == (first.count + second.count) * 2)
        #expect(wav.count == 44 + format.dataBytes && file.size == wav.count)
        let samples = stride(from: 44, to: wav.count, by: 2).map { Int16(bitPattern: UInt16(wav[$0]) | UInt16(wav[$0 + 1]) << 8) }
        #expect(samples == first + second)
    }

    @Test func startForgetsAudioFromBefore() throws {
        let server = try RemoteEngineServer(script: #"{"default": {"json": {"text": "ok"}}}"#)
        let engine = transcriber(server)
        try Self.tone(5_000).withUnsafeBufferPointer { try engine.feed($0) }
        #expect(try utterance(engine, Self.tone(320)) == "ok")
        #expect(try utterance(engine, Self.tone(640)) == "ok")
        #expect(try server.requests().map { $0.files?["file"]?.size } == [44 + 640, 44 + 1280])
    }

    /// The remote engine sends the utterance when it ends, so its transcript's final_ms holds
    /// the whole request: here at least the 0.3 s the server waits before answering.
    @Test func transcriptFinalMsHoldsTheRequestAfterTheUtteranceEnds() throws {
        let server = try RemoteEngineServer(script: #"[{"json": {"text": "go forward"}, "sleep": 0.3}]"#)
        let sink = MemorySink()
        var stream: [Frame] = [.event(.audioStart(.pipeline, timestamp: 0))]
        stream += Frames.audio(Self.tone(8_000), from: 0)
        stream.append(.event(.audioStop(timestamp: AudioFormat.pipeline.nanoseconds(forFrames: 8_000))))
        try STTStage(engine: transcriber(server), configuration: STTConfiguration(),
                     reader: FrameReader(source: MemorySource(Frames.bytes(stream)), logger: quietLogger),
                     writer: FrameWriter(sink: sink), logger: quietLogger).run()
        let transcript = try #require(try sink.events().first { $0.type == "transcript" })
        #expect(transcript["text"] == "go forward")
        #expect(transcript["engine"] == "remote")
        let finalMs = try #require(transcript["final_ms"]?.int)
        #expect(finalMs >= 300 && finalMs < 20_000, "final_ms \(finalMs)")
    }

    @Test func anUtteranceWithoutAudioSendsNothing() throws {
        let server = try RemoteEngineServer(script: #"[{"json": {"text": "never"}}]"#)
        #expect(try utterance(transcriber(server)) == "")
        #expect(try server.requests().isEmpty)
    }

    @Test func serverErrorsAreRetriedThenReportedOnOneLine() throws {
        let server = try RemoteEngineServer(script: #"{"default": {"status": 500, "body": "model\nnot loaded"}}"#)
        #expect {
            try utterance(transcriber(server, attempts: 3), Self.tone(160))
        } throws: { error in
            let text = "\(error)"
            return (error as? ToolError)?.exit == .unavailable && !text.contains("\n") && text.hasPrefix(
                "remote speech-to-text failed: gave up after 3 attempts") && text.hasSuffix(
                "HTTP 500 from http://127.0.0.1:\(server.port)/v1/audio/transcriptions: model not loaded")
        }
        #expect(try server.requests().count == 3)
    }

    @Test func aReplyThatIsNotJSONIsAnErrorAndNotRetried() throws {
        let server = try RemoteEngineServer(script: #"{"default": {"body": "<html>gateway</html>"}}"#)
        #expect {
            try utterance(transcriber(server, attempts: 3), Self.tone(160))
        } throws: { error in
            "\(error)".hasPrefix("remote speech-to-text failed: bad response from http://127.0.0.1:\(server.port)/v1/audio/transcriptions: the reply is not valid JSON")
        }
        #expect(try server.requests().count == 1)
    }

    @Test func whileTheServerIsDownLaterUtterancesFailFast() throws {
        let server = try RemoteEngineServer(script: #"{"default": {"status": 503}}"#)
        let clock = ManualClock()
        let breaker = CircuitBreaker(name: "stt", configuration: .init(failureThreshold: 2, coolDown: .seconds(10)), clock: clock)
        let engine = transcriber(server, attempts: 2, breaker: breaker)

        #expect(throws: ToolError.self) { try utterance(engine, Self.tone(160)) }
        #expect(try server.requests().count == 2)
        #expect {
            try utterance(engine, Self.tone(160))
        } throws: { "\($0)" == "remote speech-to-text failed: circuit 'stt' is open; next trial in 10.0 s" }
        #expect(try server.requests().count == 2, "no request while the circuit is open")

        // The server recovers (its script replaced through the control path) and the cool-down passes.
        _ = try HTTPClient(logger: logs.logger).send(.postJSON(url: server.baseURL + "/__script",
                                                               json: #"{"default": {"json": {"text": "back"}}}"#))
        clock.advance(by: .seconds(10))
        #expect(try utterance(engine, Self.tone(160)) == "back")
        #expect(breaker.state == .closed)
        #expect(try server.requests().count == 3)
    }

    @Test func theKeyStaysOutOfErrorsAndLogs() throws {
        let server = try RemoteEngineServer(script: #"{"default": {"status": 500, "echo_auth": true}}"#)
        var message = ""
        do {
            _ = try utterance(transcriber(server, attempts: 2), Self.tone(160))
        } catch {
            message = "\(error)"
        }
        #expect(message.contains("[redacted]"), "the server echoed the key: \(message)")
        #expect(logs.all.count >= 1)
        for line in [message, "\(transcriber(server).configuration)"] + logs.all {
            #expect(!line.contains(Self.key), "\(line)")
        }
    }

    @Test func optionsBuildAWorkingEngine() throws {
        let server = try RemoteEngineServer(script: #"[{"json": {"text": "from options"}}]"#)
        let variable = "VX_TEST_STT_KEY_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        setenv(variable, Self.key, 1)
        defer { unsetenv(variable) }
        let options = try RemoteSTTOptions.parse(["--url", server.baseURL, "--model", "base.en", "--api-key-env", variable,
                                                  "--timeout", "20", "--retries", "1"])
        #expect(options.retryPolicy.maxAttempts == 2 && options.retryPolicy.deadline == .seconds(20))
        #expect(options.timeouts == HTTPTimeouts(connect: .seconds(5), idle: .seconds(20), total: .seconds(20)))
        let engine = try options.makeTranscriber(logger: logs.logger)
        #expect(try utterance(engine, Self.tone(320)) == "from options")
        let request = try #require(try server.requests().first)
        #expect(request.fields?["model"] == "base.en")
        #expect(request.authorization.sha256 == (try RemoteEngineServer.sha256("Bearer \(Self.key)")))
    }

    @Test func optionsRefuseWhatCannotWork() throws {
        for arguments in [["--timeout", "0"], ["--retries", "11"], ["--url", "ftp://127.0.0.1/"], ["--api-key-env", "A=B"]] {
            #expect(throws: (any Error).self, "\(arguments)") { try RemoteSTTOptions.parse(arguments) }
        }
        let unset = try RemoteSTTOptions.parse(["--url", "http://127.0.0.1:9", "--api-key-env", "VX_TEST_UNSET_\(getpid())"])
        #expect {
            try unset.makeTranscriber(logger: logs.logger)
        } throws: { ($0 as? ToolError)?.exit == .usage && "\($0)".contains("which is not set") }
        if env("VX_STT_URL") == nil {
            #expect {
                try RemoteSTTOptions.parse([]).makeTranscriber(logger: logs.logger)
            } throws: { "\($0)" == "the remote engine needs --url or VX_STT_URL" }
        }
    }

    @Test func theTranscriptionsURLAcceptsCommonBaseForms() {
        for base in ["http://h:1", "http://h:1/", "http://h:1/v1", "http://h:1/v1/"] {
            let configuration = RemoteTranscriber.Configuration(baseURL: base, resilience: Resilience())
            #expect(configuration.transcriptionsURL == "http://h:1/v1/audio/transcriptions", "\(base)")
        }
    }
}

/// The fields of a canonical 44-byte WAV header.
private struct WAVHeader {
    var channels: Int, rate: Int, bits: Int, dataBytes: Int

    init?(_ b: [UInt8]) {
        func u32(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24 }
        func u16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        func tag(_ i: Int) -> String { String(decoding: b[i..<i + 4], as: UTF8.self) }
        guard b.count >= 44, tag(0) == "RIFF", u32(4) == b.count - 8, tag(8) == "WAVE", tag(12) == "fmt ", u32(16) == 16,
              u16(20) == 1, tag(36) == "data" else { return nil }
        channels = u16(22)
        rate = u32(24)
        bits = u16(34)
        guard u32(28) == rate * channels * bits / 8, u16(32) == channels * bits / 8 else { return nil }
        dataBytes = u32(40)
    }
}

/// Keeps log records as text lines.
final class RemoteLogStore: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(store: self) }
    }

    private struct Handler: LogHandler {
        let store: RemoteLogStore
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            var merged = metadata
            merged.merge(event.metadata ?? [:]) { _, new in new }
            store.lines.withLock { $0.append("\(event.level) \(event.message) \(merged)") }
        }
    }
}

/// The fixture server as a process for one test; it exits when its stdin closes (`deinit`).
final class RemoteEngineServer {
    struct Request: Decodable {
        struct Authorization: Decodable { var present: Bool; var sha256: String? }
        struct File: Decodable { var filename: String; var content_type: String?; var size: Int; var base64: String }
        var method: String
        var path: String
        var authorization: Authorization
        var fields: [String: String]?
        var files: [String: File]?
    }

    let port: Int
    private let process = Process()
    private let stdin = Pipe()
    private let log = FileManager.default.temporaryDirectory.appendingPathComponent("vx-stt-fake-\(UUID().uuidString.prefix(8)).jsonl")
    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(script: String) throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/fake_engine_server.py").path
        let stdout = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", fixture, "--script", script, "--log", log.path, "--idle-timeout", "120"]
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        // The first line is the port; wait for it at most 15 s.
        var line: [UInt8] = []
        var pfd = pollfd(fd: stdout.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
        var byte: UInt8 = 0
        while line.count < 16, poll(&pfd, 1, 15_000) > 0, read(pfd.fd, &byte, 1) == 1, byte != UInt8(ascii: "\n") {
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw ToolError.unavailable("fake_engine_server did not print its port")
        }
        self.port = port
    }

    deinit {
        try? stdin.fileHandleForWriting.close()
        for _ in 0..<500 where process.isRunning { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: log)
    }

    func requests() throws -> [Request] {
        guard let data = FileManager.default.contents(atPath: log.path) else { return [] }
        return try data.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(Request.self, from: Data($0)) }
    }

    static func sha256(_ text: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sha256sum"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: out, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
    }
}
