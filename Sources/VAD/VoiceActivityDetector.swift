import Dispatch
import Logging
import VXShared

/// What vx-vad runs: an engine and the turn rules.
public struct VADConfiguration: Sendable {
    public var engine: EngineChoice
    public var turns: TurnDetector.Configuration
    /// High-pass cutoff in Hz applied before the engine; 0 for none.
    public var highPass: Double

    public init(engine: EngineChoice = .webrtc(aggressiveness: 3, levelGate: 12), turns: TurnDetector.Configuration = .init(),
                highPass: Double = 120) {
        self.engine = engine
        self.turns = turns
        self.highPass = highPass
    }
}

/// The vx-vad stage: forwards every frame unchanged and in order, and inserts
/// `voice-started` / `voice-stopped` where the turn detector decides, right
/// after the audio frame whose samples decided it.
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

    public init(configuration: VADConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
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
                if let event = turns.beginStretch(at: chunk.timestamp) { record(event, into: &out) }
            }
            stretchEnd = chunk.timestamp.addingSaturating(format.nanoseconds(forFrames: chunk.pcm.count / format.bytesPerFrame))
            try framer.append(chunk) { time, samples in try analyse(time, samples, into: &out) }
        default:
            out.append(frame)
        }
    }

    /// Analyses what the stretch still holds, then closes an open utterance.
    private func finishStretch(into out: inout [Frame]) throws {
        try framer?.finish { time, samples in try analyse(time, samples, into: &out) }
        framer = nil
        stretchEnd = nil
        if let event = turns.endStretch() { record(event, into: &out) }
    }

    private func analyse(_ time: UInt64, _ samples: UnsafeBufferPointer<Int16>, into out: inout [Frame]) throws {
        filter.process(samples, into: &filtered)
        let verdict = try filtered.withUnsafeBufferPointer { try engine.classify($0) }
        let event = turns.process(time, verdict)
        logger.trace("frame", metadata: [
            "frame.ns": "\(time)", "frame.verdict": "\(verdict)", "speaking": "\(turns.isSpeaking)",
        ])
        if let event { record(event, into: &out) }
    }

    private func record(_ event: TurnEvent, into out: inout [Frame]) {
        out.append(.event(Event(event)))
        switch event {
        case .started(let onset, let preRoll):
            self.onset = onset
            utterances += 1
            logger.debug("voice started", metadata: [
                "utterance": "\(utterances)", "onset_ms": "\(Self.ms(onset))", "preroll_ms": "\(Self.ms(preRoll))",
            ])
        case .stopped(let end, let reason):
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
