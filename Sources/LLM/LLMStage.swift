import Logging
import VXNet
import VXShared

extension EventType {
    /// Feedback to vx-llm: what the user heard of a reply.
    static let heard = "heard"
}

/// vx-llm: transcripts in, replies streamed out, every frame forwarded.
///
/// Two threads share one lock (`state`):
/// - the **reader** (a thread of its own) reads frames and forwards each one unchanged, in order.
///   A `transcript` is forwarded and then queued as the next user utterance. An `interrupt` cancels
///   the reply in flight at once (its `Cancellation` aborts the HTTP transfer) and is then
///   forwarded. The reader never waits for the model, so it sees an `interrupt` while a reply streams.
/// - the **worker** (the thread that calls `run()`) takes the queued utterances one turn at a time,
///   asks the model and writes each piece of text as a `reply-chunk`, then one `reply`.
///
/// Ordering, guaranteed by doing each step's writes under the lock:
/// - forwarded frames keep their input order, and a transcript is forwarded before any
///   `reply-chunk` of the reply to it;
/// - one turn at a time: a reply's chunks, in order, then its one `reply`, before the next turn's;
/// - once an `interrupt` has been forwarded, no `reply-chunk` of the reply it interrupted follows;
///   that reply's `reply` (`interrupted: true`, the text sent before it) comes after the interrupt;
/// - transcripts that arrive while a reply streams are answered together, as one turn, after it;
///   transcripts still waiting when an `interrupt` comes are not answered, but stay in the history.
///
/// The history is written under the same lock, so it keeps the order in which turns happened.
///
/// A third thread, when there is a feedback input, reads it: a `heard` event there replaces a
/// reply in the history by what the user heard of it. Nothing on it is forwarded, and its end or
/// failure leaves the stage running.
public final class LLMStage: @unchecked Sendable {
    /// One reply being produced.
    private final class InFlight {
        let id: String
        let userText: String
        let readAt: Duration
        let cancellation = Cancellation()
        var interrupted = false
        var heard: String?
        var text = ""
        var deltas = 0
        var startedAt: Duration = .zero
        var firstDeltaAt: Duration?
        /// Transcripts dropped by an interrupt during this reply, recorded after it.
        var dropped: [String] = []

        init(id: String, userText: String, readAt: Duration) {
            self.id = id
            self.userText = userText
            self.readAt = readAt
        }
    }

    private struct Pending {
        var text: String
        var readAt: Duration
    }

    private let streamer: ReplyStreamer
    private let prompts: PromptBuilder
    private let conversation: Conversation
    private let reader: FrameReader
    private let writer: FrameWriter
    private let feedback: FrameReader?
    private let apology: String
    private let beforeTurn: (() -> Void)?
    private let clock: any MonotonicClock
    private let logger: Logger
    private let idPrefix: String

    private let state = Monitor()
    private var pending: [Pending] = []
    private var current: InFlight?
    private var inputEnded = false
    private var stopped = false
    private var replies = 0
    private var inputFailure: (any Error)?
    private var outputFailure: (any Error)?

    /// - Parameters:
    ///   - apology: said (as reply text) when the model cannot be reached, so the user hears something.
    ///   - beforeTurn: called on the worker thread before each turn (the local server's health check).
    ///   - feedback: the supervisor's feedback (`heard`), read on a thread of its own.
    public init(streamer: ReplyStreamer, prompts: PromptBuilder, conversation: Conversation,
                reader: FrameReader, writer: FrameWriter, feedback: FrameReader? = nil, apology: String,
                beforeTurn: (() -> Void)? = nil, clock: any MonotonicClock = SystemClock(), logger: Logger) {
        self.streamer = streamer
        self.prompts = prompts
        self.conversation = conversation
        self.reader = reader
        self.writer = writer
        self.feedback = feedback
        self.apology = apology
        self.beforeTurn = beforeTurn
        self.clock = clock
        self.logger = logger
        idPrefix = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
    }

    /// Runs until the input ends and every utterance in it has been answered, or `stop()`.
    /// `prepare` runs first on this thread while the reader already forwards frames (the local
    /// server starts there); what it throws ends the stage. Throws the input's error after
    /// answering what came before it, or the output's.
    public func run(prepare: () throws -> Void = {}) throws {
        startThread("vx-llm-reader") { [self] in read() }
        if let feedback { startThread("vx-llm-feedback") { [self] in readFeedback(feedback) } }
        defer { feedback?.source.close() }
        do {
            try prepare()
            while let turn = nextTurn() {
                try answer(turn)
            }
        } catch let failure as OutputFailure {
            stop()
            throw failure.error
        } catch {
            stop()
            throw error
        }
        let (input, output) = state.withLock { (inputFailure, outputFailure) }
        if let failure = output ?? input { throw failure }
    }

    /// Stops at once (SIGINT/SIGTERM, or a fatal error): the reply in flight is cancelled, waiting
    /// utterances are dropped and the output is closed.
    public func stop() {
        state.withLock {
            stopped = true
            pending.removeAll()
            current?.cancellation.cancel()
            state.signal()
        }
        writer.close()
        reader.source.close()
        feedback?.source.close()
    }

    // MARK: Reader thread

    private func read() {
        do {
            while let frame = try reader.next() {
                guard case .event(let event) = frame else {
                    try forward(frame)
                    continue
                }
                switch event.type {
                case EventType.transcript: try received(transcript: event)
                case EventType.interrupt: try received(interrupt: event)
                default: try forward(frame)
                }
            }
            state.withLock {
                inputEnded = true
                state.signal()
            }
        } catch let failure as OutputFailure {
            state.withLock {
                outputFailure = failure.error
                stopped = true
                current?.cancellation.cancel()
                state.signal()
            }
        } catch {
            // Bad input: what came before it is still answered, then the error is reported.
            logger.debug("input failed; answering what came before it", metadata: ["error": "\(error)"])
            state.withLock {
                inputFailure = error
                inputEnded = true
                state.signal()
            }
        }
    }

    private func forward(_ frame: Frame) throws {
        try state.withLock { () throws(OutputFailure) in try write([frame]) }
    }

    private func received(transcript event: Event) throws {
        let text = (event["text"]?.string ?? "").trimming(" \t\r\n")
        try state.withLock { () throws(OutputFailure) in
            try write([.event(event)])
            guard !text.isEmpty, !stopped else { return }
            pending.append(Pending(text: text, readAt: clock.now))
            state.signal()
        }
    }

    private func received(interrupt event: Event) throws {
        let heard = event["heard"]?.string
        let dropped = try state.withLock { () throws(OutputFailure) -> Int in
            let dropped = pending.map(\.text)
            pending.removeAll()
            // What was heard belongs to the reply in flight, or else to the last one.
            var refine = heard != nil
            if let reply = current {
                reply.dropped += dropped
                if let heard { reply.heard = heard }
                refine = false
                if !reply.interrupted {
                    reply.interrupted = true
                    reply.cancellation.cancel()
                }
            }
            if current == nil {
                for text in dropped { conversation.append(.user(text)) }
            }
            if refine, let heard { conversation.refineReply(heard: heard) }
            try write([.event(event)])
            return dropped.count
        }
        if dropped > 0 {
            logger.info("interrupt: waiting utterances kept in the history, not answered", metadata: ["utterances": "\(dropped)"])
        }
    }

    // MARK: Feedback thread

    private func readFeedback(_ feedback: FrameReader) {
        do {
            while let frame = try feedback.next() {
                guard case .event(let event) = frame, event.type == EventType.heard else {
                    logger.debug("feedback ignored: only heard events are acted on", metadata: ["event.type": "\(frame.event?.type ?? "audio")"])
                    continue
                }
                received(heard: event)
            }
            logger.info("feedback input ended; replies go on without it", metadata: ["input": "\(feedback.source.name)"])
        } catch {
            guard !state.withLock({ stopped || inputEnded }) else { return }  // closed on the way out
            logger.warning("feedback input failed; replies go on without it",
                           metadata: ["input": "\(feedback.source.name)", "error": "\(error)"])
        }
    }

    /// `heard` {id, text}: the user heard only `text` of reply `id` (the newest when missing).
    private func received(heard event: Event) {
        guard let text = event["text"]?.string else {
            logger.warning("heard event without text; ignored")
            return
        }
        let id = event["id"]?.string
        let found = state.withLock { () -> Bool in
            // A reply still in flight keeps it until it is written to the history.
            if let reply = current, id == nil || id == reply.id {
                reply.heard = text
                return true
            }
            return conversation.refineReply(id: id, heard: text)
        }
        if found {
            logger.info("reply refined by what was heard", metadata: ["reply.id": "\(id ?? "newest")", "llm.heard_chars": "\(text.count)"])
        } else {
            logger.notice("heard event for an unknown reply; ignored", metadata: ["reply.id": "\(id ?? "newest")"])
        }
    }

    // MARK: Worker thread

    /// Waits for the next utterances and makes them the reply in flight; nil when there will be none.
    private func nextTurn() -> InFlight? {
        state.withLock {
            while pending.isEmpty && !inputEnded && !stopped { state.wait() }
            guard !stopped, !pending.isEmpty else { return nil }
            replies += 1
            let turn = InFlight(id: "\(idPrefix)-\(replies)", userText: pending.map(\.text).joined(separator: " "),
                                readAt: pending[0].readAt)
            pending.removeAll()
            current = turn
            conversation.append(.user(turn.userText))
            return turn
        }
    }

    private func answer(_ turn: InFlight) throws {
        beforeTurn?()
        let prompt = prompts.prompt(for: conversation.turns)
        turn.startedAt = clock.now
        let outcome = try streamer.stream(prompt, cancellation: turn.cancellation) { delta, engineTime in
            try state.withLock { () throws(OutputFailure) in try deliver(delta, engineTime: engineTime, of: turn) }
        }
        try finish(turn, outcome)
    }

    /// With the lock held: one piece of the reply, unless it was interrupted. `engineTime`: from
    /// sending the request until the piece came, as `engine_ms`.
    private func deliver(_ delta: String, engineTime: Duration, of turn: InFlight) throws(OutputFailure) {
        guard !turn.interrupted, !stopped else { return }
        var text = Substring(delta)
        if turn.text.isEmpty {
            text = text.drop(while: \.isWhitespace)  // "Assistant: Paris" continues with " Paris"
            if text.isEmpty { return }
        }
        if turn.firstDeltaAt == nil { turn.firstDeltaAt = clock.now }
        turn.text += text
        turn.deltas += 1
        try write([.event(Event(EventType.replyChunk, ["text": .string(String(text)), "id": .string(turn.id),
                                                       "engine_ms": .double(Self.tenthsOfMs(engineTime))]))])
    }

    private func finish(_ turn: InFlight, _ outcome: ReplyOutcome) throws {
        let finishedAt = clock.now
        // History is written under the lock, as the reader's is, so turns keep their order.
        let (interrupted, text) = try state.withLock { () throws(OutputFailure) -> (Bool, String) in
            current = nil
            let text = turn.text.trimming(" \t\r\n")
            let said = turn.heard ?? text
            if !said.isEmpty {
                conversation.append(.assistant(said, interrupted: turn.interrupted || stopped || turn.heard != nil, id: turn.id))
            }
            for dropped in turn.dropped { conversation.append(.user(dropped)) }
            if stopped && !turn.interrupted { return (false, text) }
            var reply: [String: JSONValue] = [
                "text": .string(text), "interrupted": .bool(turn.interrupted), "id": .string(turn.id),
                "backend": .string(streamer.backend.name), "model": .string(streamer.backend.model),
                "deltas": .int(Int64(turn.deltas)), "total_ms": .int(Self.ms(finishedAt - turn.readAt)),
                "engine_ms": .double(Self.tenthsOfMs(finishedAt - turn.startedAt)),
            ]
            if let first = turn.firstDeltaAt { reply["ttft_ms"] = .int(Self.ms(first - turn.readAt)) }
            var frames: [Frame] = []
            if !turn.interrupted, case .failed(let reason) = outcome.ending {
                reply["error"] = true
                if text.isEmpty {
                    reply["text"] = .string(apology)
                    // Its engine time: how long the engine was tried before giving up.
                    frames.append(.event(Event(EventType.replyChunk, [
                        "text": .string(apology), "id": .string(turn.id),
                        "engine_ms": .double(Self.tenthsOfMs(finishedAt - turn.startedAt)),
                    ])))
                    frames.append(.event(Event(EventType.reply, reply)))
                    frames.append(.event(.error("no reply from the language model: \(reason)", code: "llm-unavailable")))
                } else {
                    frames.append(.event(Event(EventType.reply, reply)))
                    frames.append(.event(.error("the reply was cut short: \(reason)", code: "llm-incomplete")))
                }
            } else {
                frames.append(.event(Event(EventType.reply, reply)))
            }
            try write(frames)
            return (turn.interrupted, text)
        }

        var metadata: Logger.Metadata = [
            "reply.id": "\(turn.id)", "llm.backend": "\(streamer.backend.name)", "llm.deltas": "\(turn.deltas)",
            "llm.chars": "\(text.count)", "llm.total_ms": "\(Self.ms(finishedAt - turn.readAt))",
            "llm.wait_ms": "\(Self.ms(turn.startedAt - turn.readAt))",
        ]
        if let first = turn.firstDeltaAt {
            metadata["llm.ttft_ms"] = "\(Self.ms(first - turn.readAt))"
            metadata["llm.generate_ms"] = "\(Self.ms(finishedAt - first))"
        }
        if outcome.unreadable > 0 { metadata["llm.unreadable_events"] = "\(outcome.unreadable)" }
        switch outcome.ending {
        case _ where interrupted:
            logger.info("reply interrupted", metadata: metadata)
        case .complete:
            logger.info("reply", metadata: metadata)
        case .cancelled:
            logger.info("reply cancelled", metadata: metadata)
        case .failed(let reason):
            metadata["error"] = "\(reason)"
            logger.warning(turn.text.isEmpty ? "no reply from the language model; apologised" : "reply cut short",
                           metadata: metadata)
        }
    }

    /// With the lock held: writes frames, marking a failure as the output's.
    private func write(_ frames: [Frame]) throws(OutputFailure) {
        do {
            try writer.write(frames)
        } catch {
            throw OutputFailure(error: error)
        }
    }

    private struct OutputFailure: Error {
        var error: any Error
    }

    /// Milliseconds to 0.1 ms.
    private static func tenthsOfMs(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s * 10_000 + atto / 100_000_000_000_000) / 10
    }

    private static func ms(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
