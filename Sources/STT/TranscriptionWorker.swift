import Logging
import VXShared

/// The decoding thread: owns the engine, runs the reader's commands in order
/// and writes what it produces (transcript-chunk, transcript, error) through the
/// shared, thread-safe FrameWriter.
///
/// Audio is fed to the engine as it arrives, so when an utterance ends only
/// the engine's `finish()` is left to wait for. Partial hypotheses are looked
/// at every `partialInterval` of audio (stream time, so a file gives the same
/// chunks on every run) and sent when they changed. An engine failure ends
/// that utterance with an `error` event; the stage keeps running.
final class TranscriptionWorker: @unchecked Sendable {
    private struct Current {
        var utterance: Utterance
        var fed = 0
        var nextPartialAt: Int
        var lastPartial: String?
        /// Time spent inside the engine for this utterance.
        var busy: Duration = .zero
        var failed = false
    }

    let engine: any Transcriber
    private let partialSamples: Int?
    private let writer: FrameWriter
    private let clock: any MonotonicClock
    private let logger: Logger
    private var current: Current?

    init(engine: any Transcriber, configuration: STTConfiguration, writer: FrameWriter, clock: any MonotonicClock,
         logger: Logger) {
        self.engine = engine
        partialSamples = configuration.partialInterval.flatMap {
            $0 > .zero && engine.supportsPartials ? STTConfiguration.samples($0) : nil
        }
        self.writer = writer
        self.clock = clock
        self.logger = logger
    }

    /// Runs commands until the queue ends. Throws only when the output fails.
    func run(_ queue: DecodeQueue) throws {
        while let command = queue.pop() {
            try perform(command)
        }
    }

    func perform(_ command: DecodeCommand) throws {
        switch command {
        case .start(let utterance):
            current = Current(utterance: utterance, nextPartialAt: partialSamples ?? .max)
            try engineCall("start") { try engine.start() }
        case .feed(let samples):
            guard current != nil, current?.failed == false else { return }
            try engineCall("feed") { try samples.withUnsafeBufferPointer { try engine.feed($0) } }
            current?.fed += samples.count
            try sendPartialIfDue()
        case .finish(let end):
            try finish(end)
        case .cancel:
            current = nil  // the engine's next start() abandons what it had
        }
    }

    private func sendPartialIfDue() throws {
        guard let interval = partialSamples, var state = current, !state.failed, state.fed >= state.nextPartialAt else {
            return
        }
        state.nextPartialAt = (state.fed / interval + 1) * interval
        let started = clock.now
        let text = engine.partial()
        state.busy += clock.now - started
        current = state
        guard let text, !text.isEmpty, text != state.lastPartial else { return }
        current?.lastPartial = text
        try writer.write(.event(Event(EventType.transcriptChunk, [
            "text": .string(text), "start_ns": .int(Int64(clamping: state.utterance.startNs)),
        ])))
    }

    private func finish(_ end: UtteranceEnd) throws {
        guard let state = current else { return }
        current = nil
        guard !state.failed else { return }
        let started = clock.now
        let text: String
        do {
            text = try engine.finish()
        } catch {
            try reportFailure(error, during: "finish", utterance: state.utterance)
            return
        }
        let finishTime = clock.now - started
        // The engine's time on the critical path: from reading the utterance's end to its final
        // text (audio still queued when the end was read, then `finish()`).
        let finalTime = end.readAt.map { clock.now - $0 } ?? finishTime
        if !text.isEmpty {
            try writer.write(.event(Event(EventType.transcript, [
                "text": .string(text),
                "start_ns": .int(Int64(clamping: state.utterance.startNs)),
                "end_ns": .int(Int64(clamping: max(end.endNs, state.utterance.startNs))),
                "engine": .string(engine.name),
                "final_ms": .int(Int64(Self.milliseconds(finalTime))),
            ])))
        }
        let audio = Double(state.fed) / Double(AudioFormat.pipeline.rate)
        let busy = Self.seconds(state.busy + finishTime)
        var metadata: Logger.Metadata = [
            "utterance.id": "\(state.utterance.id)",
            "utterance.reason": "\(end.reason)",
            "utterance.audio_ms": "\(Int((audio * 1000).rounded()))",
            "utterance.finish_ms": "\(Self.milliseconds(finishTime))",
            "utterance.rtf": "\(audio > 0 ? Self.rounded(busy / audio) : 0)",
            "utterance.words": "\(text.split(separator: " ").count)",
            "stt.engine": "\(engine.name)",
        ]
        metadata["utterance.final_ms"] = "\(Self.milliseconds(finalTime))"
        logger.info(text.isEmpty ? "utterance had no words" : "transcribed", metadata: metadata)
        logger.debug("transcript", metadata: ["utterance.id": "\(state.utterance.id)", "text": "\(text)"])
    }

    /// Runs an engine call, timing it; a failure fails the utterance with an `error` event.
    private func engineCall(_ what: String, _ body: () throws -> Void) throws {
        guard let state = current else { return }
        let started = clock.now
        do {
            try body()
            current?.busy += clock.now - started
        } catch {
            current?.failed = true
            try reportFailure(error, during: what, utterance: state.utterance)
        }
    }

    private func reportFailure(_ error: any Error, during what: String, utterance: Utterance) throws {
        logger.warning("speech recognition failed; utterance dropped", metadata: [
            "utterance.id": "\(utterance.id)", "stt.engine": "\(engine.name)", "stt.call": "\(what)", "error": "\(error)",
        ])
        try writer.write(.event(.error("speech recognition failed: \(error)", code: "stt-failed")))
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func milliseconds(_ duration: Duration) -> Int { Int((seconds(duration) * 1000).rounded()) }

    static func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}
