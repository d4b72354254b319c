import Dispatch
import Logging
import VXShared

/// What vx-vad runs: an engine, the turn rules, the echo gate and barge-in.
public struct VADConfiguration: Sendable {
    public var engine: EngineChoice
    public var turns: TurnDetector.Configuration
    /// High-pass cutoff in Hz applied before the engine; 0 for none.
    public var highPass: Double
    /// How speech is told from the assistant's echo while playback is audible.
    public var echo: EchoGate.Configuration
    /// When the user's voice interrupts; nil for no `interrupt` events.
    public var bargeIn: BargeInDetector.Configuration?

    public init(engine: EngineChoice = .webrtc(aggressiveness: 3, levelGate: 12), turns: TurnDetector.Configuration = .init(),
                highPass: Double = 120, echo: EchoGate.Configuration = .init(), bargeIn: BargeInDetector.Configuration? = nil) {
        self.engine = engine
        self.turns = turns
        self.highPass = highPass
        self.echo = echo
        self.bargeIn = bargeIn
    }
}

/// The vx-vad stage: forwards every frame unchanged and in order, and inserts
/// `voice-started` / `voice-stopped` (and, with barge-in, `interrupt`) where the
/// turn and barge-in detectors decide, right after the audio frame whose samples
/// decided it; `decided_ns` is the stream time just after that frame.
///
/// While `playback` says the assistant is audible, the echo gate keeps its voice,
/// heard back through the microphone, from counting as speech.
///
/// One engine and one turn detector serve the whole run (across utterances,
/// stretches and connections). An utterance open when its stretch ends is
/// stopped (`audio-stop`) before the `audio-stop` is forwarded; so is one open
/// at the end of the input or at SIGINT/SIGTERM (`stop()`).
public final class VoiceActivityDetector: @unchecked Sendable {
    public let configuration: VADConfiguration
    private let engine: any VoiceActivityEngine
    private let logger: Logger
    private var turns: TurnDetector
    private var echo: EchoGate
    private var bargeIn: BargeInDetector?
    private let playback: PlaybackState?
    private var framer: AnalysisFramer?
    private var filter: HighPassFilter
    private var filtered: [Int16] = []
    /// Guards the state above and the writer's order across `run` and `stop`.
    private let lock = Lock()
    private var writer: FrameWriter?
    /// Stream time just after the last forwarded sample of the open stretch, if one is open.
    private var stretchEnd: UInt64?
    private var stretchStarted = false
    private var onset: UInt64 = 0
    private var utterances = 0
    /// Stream time just after the audio frame being analysed: where events decided now are written.
    private var decided: UInt64 = 0

    /// `playback`: whether the assistant is audible (fed by the feedback input); nil when nothing plays.
    public init(configuration: VADConfiguration, playback: PlaybackState? = nil, logger: Logger) throws {
        self.configuration = configuration
        self.playback = playback
        self.logger = logger
        echo = EchoGate(configuration: configuration.echo)
        bargeIn = configuration.bargeIn.map { BargeInDetector(configuration: $0) }
        engine = try configuration.engine.makeEngine()
        var rules = configuration.turns
        rules.hangover = engine.hangover
        turns = TurnDetector(configuration: rules)
        filter = HighPassFilter(cutoff: configuration.highPass)
    }

    /// Reads frames until the input ends, forwarding them with voice events inserted.
    public func run(reader: FrameReader, writer: FrameWriter) throws {
        lock.withLock { self.writer = writer }
        logger.info("detecting voice", metadata: [
            "engine": "\(engine.name)", "min_speech_ms": "\(configuration.turns.minSpeech / 1_000_000)",
            "min_silence_ms": "\(configuration.turns.minSilence / 1_000_000)",
            "pre_roll_ms": "\(configuration.turns.preRoll / 1_000_000)",
            "max_utterance_ms": "\(configuration.turns.maxUtterance / 1_000_000)",
            "echo_margin_db": "\(configuration.echo.margin)",
            "barge_in_ms": "\(configuration.bargeIn.map { "\($0.speech / 1_000_000)" } ?? "off")",
        ])
        while let frame = try reader.next() {
            try lock.withLock {
                var out: [Frame] = []
                try handle(frame, format: reader.format, into: &out)
                try writer.write(out)
            }
        }
        lock.withLock {
            var out: [Frame] = []
            if stretchEnd != nil { try? finishStretch(into: &out) }
            if !out.isEmpty { logger.debug("input ended inside a stretch; closed the open utterance") }
            writer.close(after: out)
        }
    }

    /// Ends the run from a signal: stops an open utterance and closes an open
    /// stretch with `audio-stop` (as every vx tool does), then closes the output.
    /// Gives up after `timeout` if a write is stuck (a reader that stopped reading).
    public func stop(timeout: Double = 2) {
        let done = DispatchSemaphore(value: 0)
        startThread("vx-vad-stop") { [self] in
            lock.withLock {
                guard let writer else { return }
                var out: [Frame] = []
                if let end = stretchEnd {
                    decided = end
                    if let event = turns.endStretch() { record(event, into: &out) }
                    out.append(.event(.audioStop(timestamp: end)))
                    stretchEnd = nil
                }
                writer.close(after: out)
            }
            done.signal()
        }
        if done.wait(timeout: .now() + timeout) == .timedOut {
            logger.warning("output still busy after \(timeout) s; stopping without closing it")
        }
    }

    private func handle(_ frame: Frame, format: AudioFormat?, into out: inout [Frame]) throws {
        switch frame {
        case .event(let event) where event.type == EventType.audioStart:
            // A new stretch (or a peer repeating its audio-start) ends the one before.
            if stretchEnd != nil { try finishStretch(into: &out) }
            guard let format else { preconditionFailure("FrameReader makes a valid audio-start's format current") }
            framer = try AnalysisFramer(format: format)
            stretchEnd = event.timestampNanoseconds ?? 0
            stretchStarted = false
            out.append(frame)
        case .event(let event) where event.type == EventType.audioStop:
            if stretchEnd != nil { try finishStretch(into: &out) }
            out.append(frame)
        case .audio(let chunk):
            out.append(frame)
            guard let format, let framer else { return }
            if !stretchStarted {
                stretchStarted = true
                decided = chunk.timestamp
                if let event = turns.beginStretch(at: chunk.timestamp) { record(event, into: &out) }
            }
            stretchEnd = chunk.timestamp.addingSaturating(format.nanoseconds(forFrames: chunk.pcm.count / format.bytesPerFrame))
            decided = stretchEnd!
            try framer.append(chunk) { time, samples in try analyse(time, samples, into: &out) }
        default:
            out.append(frame)
        }
    }

    /// Analyses what the stretch still holds, then closes an open utterance.
    private func finishStretch(into out: inout [Frame]) throws {
        if let end = stretchEnd { decided = end }
        try framer?.finish { time, samples in try analyse(time, samples, into: &out) }
        framer = nil
        stretchEnd = nil
        bargeIn?.endStretch()
        if let event = turns.endStretch() { record(event, into: &out) }
    }

    private func analyse(_ time: UInt64, _ samples: UnsafeBufferPointer<Int16>, into out: inout [Frame]) throws {
        filter.process(samples, into: &filtered)
        let (heard, level) = try filtered.withUnsafeBufferPointer { (try engine.classify($0), frameLevel($0)) }
        let audible = playback?.isAudible ?? false
        let verdict = echo.gate(heard, level: level, audible: audible)
        if !turns.isSpeaking, let onset = bargeIn?.process(time, verdict, audible: audible) {
            interrupt(onset: onset, overPlayback: true, into: &out)
        }
        let event = turns.process(time, verdict)
        logger.trace("frame", metadata: [
            "frame.ns": "\(time)", "frame.verdict": "\(verdict)", "frame.engine": "\(heard)",
            "frame.dbfs": "\(Int(level.rounded()))", "echo.dbfs": "\(echo.echoLevel.map { "\(Int($0.rounded()))" } ?? "-")",
            "audible": "\(audible)", "speaking": "\(turns.isSpeaking)",
        ])
        if let event { record(event, into: &out) }
    }

    private func interrupt(onset: UInt64, overPlayback: Bool, into out: inout [Frame]) {
        out.append(.event(.voiceInterrupt(onset: onset, decided: decided)))
        logger.info("barge-in", metadata: [
            "onset_ms": "\(Self.ms(onset))", "decided_ms": "\(Self.ms(decided))",
            "over_playback": "\(overPlayback)",
        ])
    }

    private func record(_ event: TurnEvent, into out: inout [Frame]) {
        out.append(.event(Event(event, decided: decided)))
        switch event {
        case .started(let onset, let preRoll):
            self.onset = onset
            utterances += 1
            logger.debug("voice started", metadata: [
                "utterance": "\(utterances)", "onset_ms": "\(Self.ms(onset))", "preroll_ms": "\(Self.ms(preRoll))",
            ])
            if let onset = bargeIn?.utteranceStarted(onset: onset) { interrupt(onset: onset, overPlayback: false, into: &out) }
        case .stopped(let end, let reason):
            bargeIn?.utteranceStopped()
            logger.info("utterance", metadata: [
                "utterance": "\(utterances)", "onset_ms": "\(Self.ms(onset))", "end_ms": "\(Self.ms(end))",
                "duration_ms": "\(Self.ms(end.subtractingSaturating(onset)))", "reason": "\(reason.rawValue)",
            ])
        }
    }

    private static func ms(_ ns: UInt64) -> String {
        let tenths = (ns + 50_000) / 100_000
        return "\(tenths / 10).\(tenths % 10)"
    }
}
