import Logging
import VXNet
import VXShared

/// What vx-tts is asked to do.
public struct TTSConfiguration: Sendable {
    /// The engine's voice when a request names none.
    public var voice: String
    /// The audio it writes.
    public var format: AudioFormat
    /// The longest sentence handed to the engine (`SentenceSplitter`'s hard limit).
    public var maxSentence: Int
    /// Length of each audio frame.
    public var chunkMilliseconds: Int

    public init(voice: String, format: AudioFormat = .pipeline, maxSentence: Int = 200, chunkMilliseconds: Int = 20) {
        self.voice = voice
        self.format = format
        self.maxSentence = maxSentence
        self.chunkMilliseconds = chunkMilliseconds
    }
}

/// vx-tts: frames in; every event forwarded, and speech for replies and `synthesize` requests out.
///
/// Two threads:
/// - the **reader** (a thread of its own) reads frames and acts on each at once: it forwards every
///   event as it reads it, cuts `reply-chunk` text into sentences (`SentenceSplitter`) and queues
///   each sentence the moment it is complete, and handles `interrupt` while synthesis runs;
/// - the **synthesiser** (the thread that calls `run()`) takes sentences off the queue, gets their
///   audio (`SentenceSynthesizer`: cache or engine) and writes it (`SpeechOutput`), so the first
///   sentence is heard while the model is still writing the next.
///
/// A reply (its `reply-chunk`s up to its `reply`) or a `synthesize` request is an **utterance**:
/// one stretch, `audio-start` with the first sentence's audio, `audio-stop` after its last, each
/// sentence's audio preceded by a `spoken` event. A `synthesize` that arrives during a reply waits
/// for the reply to end. Audio coming in is consumed (dropped): vx-tts's output carries its own
/// audio on its own clock.
///
/// **Interrupt** (barge-in), on the reader thread: the output's epoch moves on (audio of the old
/// epoch is never written again), every queued or running utterance's `Cancellation` is cancelled
/// (the engine stops within one chunk: flite's streaming callback returns `CST_AUDIO_STREAM_STOP`,
/// espeak-ng's synth callback returns 1, an HTTP request is aborted), queued sentences and
/// pending text are dropped, and the interrupt is forwarded followed by `audio-stop` for the open
/// stretch. If a reply was still streaming, its remaining `reply-chunk`s are forwarded but not
/// spoken, until its `reply` (or a new `transcript`) ends it; the next reply is spoken as usual.
public final class TTSStage: @unchecked Sendable {
    private let configuration: TTSConfiguration
    private let reader: FrameReader
    private let synthesizer: SentenceSynthesizer
    private let output: SpeechOutput
    private let clock: any MonotonicClock
    private let logger: Logger
    private let jobs = JobQueue<Job>()

    private let lock = Lock()
    private var inputFailure: (any Error)?
    private var outputFailure: (any Error)?
    /// Utterances queued or being spoken, so an interrupt can cancel them all.
    private var live: [Utterance] = []

    // Reader thread state.
    private var splitter: SentenceSplitter
    private var reply: Utterance?
    /// The text of the current reply's chunks so far.
    private var replyText = ""
    /// After an interrupt cut a streaming reply: its remaining chunks are not spoken.
    private var muted = false
    private var deferred: [(text: String, voice: String)] = []
    private var nextUtteranceID = 1
    private var droppedAudio = false

    public init(synthesizer: SentenceSynthesizer, configuration: TTSConfiguration, reader: FrameReader, writer: FrameWriter,
                clock: any MonotonicClock = SystemClock(), logger: Logger) {
        self.configuration = configuration
        self.reader = reader
        self.synthesizer = synthesizer
        self.clock = clock
        self.logger = logger
        output = SpeechOutput(writer: writer, format: configuration.format, chunkMilliseconds: configuration.chunkMilliseconds)
        splitter = SentenceSplitter(maxLength: configuration.maxSentence)
    }

    /// Runs until the input ends and everything in it has been spoken. Throws the input's
    /// error (bad data) or the output's.
    public func run() throws {
        startThread("vx-tts-reader") { [self] in read() }
        speakQueued()
        let (input, outputError) = lock.withLock { (inputFailure, outputFailure) }
        output.close()
        if let failure = outputError ?? input { throw failure }
    }

    /// Stops at once (SIGINT/SIGTERM): synthesis is cancelled, queued speech dropped, the open
    /// stretch closed with `audio-stop` and the output closed.
    public func stop() {
        cancelAll()
        jobs.close(droppingItems: true)
        output.close()
        reader.source.close()
    }

    // MARK: Reader thread

    private func read() {
        do {
            while let frame = try reader.next() {
                try handle(frame)
            }
            try endReply(speakingRest: true)
            jobs.close()
        } catch {
            lock.withLock { inputFailure = inputFailure ?? error }
            logger.debug("input ended with an error; stopping", metadata: ["error": "\(error)"])
            cancelAll()
            jobs.close(droppingItems: true)
        }
    }

    private func handle(_ frame: Frame) throws {
        guard case .event(let event) = frame else {
            noteDroppedAudio()
            return
        }
        switch event.type {
        case EventType.audioStart, EventType.audioStop:
            noteDroppedAudio()
        case EventType.replyChunk:
            try output.forward(event)
            if !muted, let text = event["text"]?.string, !text.isEmpty {
                let utterance = reply ?? beginReply(id: event["id"])
                replyText += text
                queue(splitter.add(text), of: utterance)
            }
        case EventType.reply:
            try output.forward(event)
            if muted {
                muted = false
            } else {
                let interrupted = event["interrupted"]?.bool ?? false
                if !interrupted, let text = event["text"]?.string {
                    // The reply's full text may hold more than its chunks did.
                    if reply == nil, !text.isEmpty { _ = beginReply(id: event["id"]) }
                    let (full, said) = (text.unicodeScalars, replyText.unicodeScalars)
                    if let utterance = reply, full.count > said.count, full.starts(with: said) {
                        var rest = String.UnicodeScalarView()
                        rest.append(contentsOf: full.dropFirst(said.count))
                        queue(splitter.add(String(rest)), of: utterance)
                    }
                }
                try endReply(speakingRest: !interrupted)
            }
        case EventType.synthesize:
            try output.forward(event)
            if let text = event["text"]?.string {
                let voice = event["voice"]?["name"]?.string ?? configuration.voice
                if reply != nil {
                    deferred.append((text, voice))
                } else {
                    try speakRequest(text, voice: voice)
                }
            }
        case EventType.transcript:
            // A new user turn: whatever reply was cut is over.
            muted = false
            try output.forward(event)
        case EventType.interrupt:
            try interrupt(event)
        default:
            try output.forward(event)
        }
    }

    /// A reply begins; `id` is the reply's id, repeated in each sentence's `spoken` event.
    private func beginReply(id: JSONValue?) -> Utterance {
        let utterance = makeUtterance(voice: configuration.voice, replyID: id == .null ? nil : id)
        reply = utterance
        replyText = ""
        return utterance
    }

    /// Ends the current reply: its last words (unless cut), then the end of its stretch; then
    /// any `synthesize` requests that waited for it.
    private func endReply(speakingRest: Bool) throws {
        if let utterance = reply {
            if speakingRest { queue(splitter.finish(), of: utterance) } else { splitter.reset() }
            jobs.push(.end(utterance))
            reply = nil
            replyText = ""
        }
        let waiting = deferred
        deferred = []
        for request in waiting { try speakRequest(request.text, voice: request.voice) }
    }

    /// A `synthesize` request: an utterance of its own.
    private func speakRequest(_ text: String, voice requested: String) throws {
        var voice = requested
        do {
            try synthesizer.engine.checkVoice(voice)
        } catch let error as TTSError {
            logger.warning("unknown voice; using the default", metadata: ["voice": "\(voice)"])
            try output.forward(.error("\(error); spoken with \(configuration.voice)", code: error.code))
            voice = configuration.voice
        }
        let utterance = makeUtterance(voice: voice)
        queue(SentenceSplitter.sentences(in: text, maxLength: configuration.maxSentence), of: utterance)
        jobs.push(.end(utterance))
    }

    private func queue(_ sentences: [String], of utterance: Utterance) {
        let now = clock.now
        for sentence in sentences { jobs.push(.sentence(sentence, utterance, completedAt: now)) }
    }

    private func makeUtterance(voice: String, replyID: JSONValue? = nil) -> Utterance {
        let utterance = Utterance(id: nextUtteranceID, epoch: output.currentEpoch, voice: voice, replyID: replyID)
        nextUtteranceID += 1
        lock.withLock { live.append(utterance) }
        return utterance
    }

    private func interrupt(_ event: Event) throws {
        output.beginInterrupt()
        cancelAll()
        jobs.removeAll()
        let streaming = reply != nil
        splitter.reset()
        reply = nil
        replyText = ""
        deferred = []
        muted = streaming
        logger.debug("interrupt: speech stopped", metadata: ["reply.streaming": "\(streaming)"])
        try output.finishInterrupt(event)
        logger.info("interrupted", metadata: ["reply.streaming": "\(streaming)"])
    }

    private func cancelAll() {
        let cancelled = lock.withLock {
            defer { live = [] }
            return live
        }
        for utterance in cancelled { utterance.stop.cancel() }
    }

    private func noteDroppedAudio() {
        guard !droppedAudio else { return }
        droppedAudio = true
        logger.notice("dropping the audio that comes in: vx-tts writes audio of its own")
    }

    // MARK: Synthesis thread

    private func speakQueued() {
        while let job = jobs.pop() {
            do {
                switch job {
                case .sentence(let text, let utterance, let completedAt):
                    try speak(text, of: utterance, completedAt: completedAt)
                case .end(let utterance):
                    try output.endStretch(epoch: utterance.epoch)
                    lock.withLock { live.removeAll { $0 === utterance } }
                }
            } catch {
                lock.withLock { outputFailure = outputFailure ?? error }
                logger.debug("output failed; stopping", metadata: ["error": "\(error)"])
                cancelAll()
                jobs.close(droppingItems: true)
                reader.source.close()
                return
            }
        }
    }

    private func speak(_ sentence: String, of utterance: Utterance, completedAt: Duration) throws {
        guard !utterance.stop.isCancelled, output.currentEpoch == utterance.epoch else { return }
        guard let text = SpeakableText.prepare(sentence) else { return }
        let started = clock.now
        let speech: SentenceSynthesizer.Speech?
        do {
            speech = try synthesizer.speak(text, voice: utterance.voice, stop: utterance.stop)
        } catch {
            let failure = error as? TTSError ?? .synthesisFailed(engine: synthesizer.engine.name, text: text, reason: "\(error)")
            logger.error("cannot speak a sentence", metadata: ["error": "\(failure)"])
            if output.currentEpoch == utterance.epoch { try output.forward(.error(failure.description, code: failure.code)) }
            return
        }
        guard let speech else { return }  // interrupted
        let synthesized = clock.now
        var firstFrame = synthesized
        let details = SpeechOutput.SentenceDetails(synthMilliseconds: Self.milliseconds(synthesized - started),
                                                   replyID: utterance.replyID)
        let sent = try output.speak(sentence, pcm: speech.pcm, epoch: utterance.epoch, details: details) {
            firstFrame = clock.now
        }
        let audio = configuration.format.nanoseconds(forFrames: speech.pcm.count / configuration.format.bytesPerFrame)
        var metadata: Logger.Metadata = [
            "sentence.chars": "\(sentence.count)",
            "sentence.audio_ms": "\(audio / 1_000_000)",
            "sentence.synth_us": "\(Self.microseconds(synthesized - started))",
            "sentence.first_audio_us": "\(Self.microseconds(firstFrame - completedAt))",
            "cache.hit": "\(speech.cached)",
            "interrupted": "\(!sent)",
        ]
        if let id = utterance.replyID?.string { metadata["reply.id"] = "\(id)" }
        logger.info("spoke a sentence", metadata: metadata)
        if !speech.cached { synthesizer.remember(text, voice: utterance.voice, pcm: speech.pcm) }
    }

    private static func microseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1_000_000 + atto / 1_000_000_000_000
    }

    /// Whole milliseconds, rounded to the nearest.
    static func milliseconds(_ d: Duration) -> Int64 { (microseconds(d) + 500) / 1_000 }
}

/// A reply or a `synthesize` request: one stretch of speech.
final class Utterance: Sendable {
    let id: Int
    /// The output epoch it belongs to; an interrupt ends it.
    let epoch: Int
    let voice: String
    /// A reply's `id` (from its `reply-chunk`s or `reply`); nil for a `synthesize` request.
    let replyID: JSONValue?
    /// Cancelled by an interrupt: stops its synthesis (and any HTTP request) at once.
    let stop = Cancellation()

    init(id: Int, epoch: Int, voice: String, replyID: JSONValue? = nil) {
        self.id = id
        self.epoch = epoch
        self.voice = voice
        self.replyID = replyID
    }
}

/// Work for the synthesis thread.
enum Job {
    case sentence(String, Utterance, completedAt: Duration)
    case end(Utterance)
}
