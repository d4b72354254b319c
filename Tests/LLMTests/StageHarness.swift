import Foundation
import Logging
import Synchronization
import Testing
import VXNet
import VXShared
@testable import LLM

/// Keeps every log record as one line of text, so tests can look through them.
final class LogStore: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in CapturingLogHandler(store: self) }
    }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }
}

struct CapturingLogHandler: LogHandler {
    let store: LogStore
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let fields = merged.keys.sorted().map { "\($0)=\(merged[$0]!)" }.joined(separator: " ")
        store.append("\(event.level) \(event.message) \(fields)")
    }
}

/// Frames in: the test pushes them, the stage's reader blocks until there are some (or the end).
final class QueueSource: ByteSource, @unchecked Sendable {
    let name = "test input"
    private let condition = NSCondition()
    private var bytes: [UInt8] = []
    private var ended = false

    func push(_ event: Event) {
        condition.lock()
        bytes += FrameEncoder.encode(.event(event))
        condition.broadcast()
        condition.unlock()
    }

    func end() {
        condition.lock()
        ended = true
        condition.broadcast()
        condition.unlock()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        condition.lock()
        defer { condition.unlock() }
        while bytes.isEmpty && !ended { condition.wait() }
        let n = min(buffer.count, bytes.count)
        buffer.copyBytes(from: bytes[0..<n])
        bytes.removeFirst(n)
        return n
    }

    func resume() throws -> Bool { false }
    func close() { end() }
}

/// Frames out: decoded as they are written, so a test can wait for one.
final class CollectingSink: ByteSink, @unchecked Sendable {
    let name = "test output"
    var greeting: (() -> [UInt8])?
    private let condition = NSCondition()
    private var decoder = FrameDecoder()
    private var frames: [Frame] = []

    /// Called on the writing thread with each event written, before the write returns.
    var onEvent: (@Sendable (Event) -> Void)?

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        condition.lock()
        decoder.append(bytes)
        var new: [Frame] = []
        while let frame = try decoder.next() { new.append(frame) }
        frames += new
        condition.broadcast()
        condition.unlock()
        if let onEvent { for event in new.compactMap(\.event) { onEvent(event) } }
    }

    func close() {}

    var events: [Event] {
        condition.lock()
        defer { condition.unlock() }
        return frames.compactMap(\.event)
    }

    /// Waits (at most `seconds`) until the events written satisfy `done`; returns them either way.
    @discardableResult
    func wait(seconds: Double = 20, until done: ([Event]) -> Bool) -> [Event] {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while !done(frames.compactMap(\.event)) {
            if !condition.wait(until: deadline) { break }
        }
        return frames.compactMap(\.event)
    }
}

/// One LLMStage running in this process between a `QueueSource` and a `CollectingSink`.
final class StageHarness: @unchecked Sendable {
    let input = QueueSource()
    /// The supervisor's feedback input.
    let feedback = QueueSource()
    let output = CollectingSink()
    let logs = LogStore()
    /// The breaker's clock and the retries' clock: never really waits, and never lets a cool-down pass.
    let clock = ManualClock()
    let breaker: CircuitBreaker
    let stage: LLMStage
    let conversation: Conversation
    private let finished = NSCondition()
    private var result: Result<Void, any Error>?

    init(backend: any LLMBackend, style: PromptStyle = .chat, system: String = "Be brief.",
         budget: ContextBudget = .default, retries: Int = 2, breakerFailures: Int = 3,
         session: SessionStore? = nil, apology: String = "Sorry.") {
        breaker = CircuitBreaker(name: backend.name, configuration: .init(failureThreshold: breakerFailures, coolDown: .seconds(60)),
                                 clock: clock)
        let retry = RetryPolicy(maxAttempts: retries + 1, initialDelay: .milliseconds(250), maxDelay: .seconds(2), jitter: 0)
        let streamer = ReplyStreamer(backend: backend, resilience: Resilience(retry: retry, breaker: breaker), clock: clock,
                                     logger: logs.logger)
        conversation = Conversation(store: session)
        stage = LLMStage(streamer: streamer, prompts: PromptBuilder(style: style, system: system, budget: budget),
                         conversation: conversation,
                         reader: FrameReader(source: input, logger: logs.logger), writer: FrameWriter(sink: output),
                         feedback: FrameReader(source: feedback, logger: logs.logger), apology: apology, logger: logs.logger)
        Thread.detachNewThread { [self] in
            let outcome = Result { try stage.run() }
            finished.lock()
            result = outcome
            finished.broadcast()
            finished.unlock()
        }
    }

    func say(_ text: String) { input.push(Event(EventType.transcript, ["text": .string(text)])) }

    /// Ends the input and waits for the stage to finish; the events it wrote.
    func finish(seconds: Double = 30) throws -> [Event] {
        input.end()
        let deadline = Date(timeIntervalSinceNow: seconds)
        finished.lock()
        defer { finished.unlock() }
        while result == nil {
            if !finished.wait(until: deadline) {
                Issue.record("the stage did not finish within \(seconds) s")
                return output.events
            }
        }
        try result!.get()
        return output.events
    }

    /// Waits (at most `seconds`) until a log line contains `text`.
    func waitForLog(containing text: String, seconds: Double = 10) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if logs.all.contains(where: { $0.contains(text) }) { return true }
            usleep(5_000)
        }
        return false
    }

    /// Waits until `count` replies have been written.
    @discardableResult
    func waitForReplies(_ count: Int, seconds: Double = 20) -> [Event] {
        output.wait(seconds: seconds) { $0.filter { $0.type == EventType.reply }.count >= count }
    }
}

extension [Event] {
    var types: [String] { map(\.type) }
    func of(_ type: String) -> [Event] { filter { $0.type == type } }
    var replies: [Event] { of(EventType.reply) }
    var chunks: [String] { of(EventType.replyChunk).compactMap { $0["text"]?.string } }
}

/// An OpenAI-compatible backend at `url`, as vx-llm makes it for `--backend openai`.
func openAI(_ url: String, key: String? = nil, timeout: Duration = .seconds(10), maxTokens: Int = 50) -> OpenAIBackend {
    OpenAIBackend(baseURL: url, model: "test-model", apiKey: key.map(Secret.init), settings: GenerationSettings(maxTokens: maxTokens),
                  timeouts: HTTPTimeouts(connect: .seconds(2), idle: timeout, total: .seconds(30)))
}
