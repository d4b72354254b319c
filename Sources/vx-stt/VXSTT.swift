import ArgumentParser
import Logging
import STT
import Synchronization
import VXShared

@main
struct VXSTT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vx-stt",
        abstract: "Transcribe the speech in a vx frame stream: audio in, transcripts out, every other event forwarded.",
        discussion: """
            vx-stt consumes the audio (audio-start, audio frames, audio-stop) and forwards every other event \
            unchanged and in order, voice-started and voice-stopped included, at once: decoding never holds \
            them up. Audio in any format is converted to 16 kHz mono and decoded as it arrives, so when an \
            utterance ends only the engine's last step is left (with pocketsphinx's default one-pass search about \
            30 ms for a 3 s utterance, 150-300 ms with --search two-pass; the remote engine sends the \
            utterance then).

            Utterances: with a VAD upstream (vx-vad), voice-started … voice-stopped, starting at voice-started's \
            preroll_ns from a buffer of recent audio (--preroll-buffer). With no voice events, each stretch, \
            audio-start … audio-stop. --segmentation chooses one of the two for good. An utterance longer than \
            --max-utterance is transcribed there, and what follows starts another.

            While an utterance is spoken, transcript-chunk {text, start_ns} carries the best hypothesis so far \
            whenever it has changed, looked at every --partial-interval of audio. At its end, transcript \
            {text, start_ns, end_ns, engine, final_ms}: start_ns where the utterance's audio began (pre-roll \
            included), end_ns where the speech ended (voice-stopped's timestamp), final_ms the milliseconds from \
            reading the utterance's end to its final text. A transcript always comes after its \
            voice-stopped; an utterance with no words gives none. An engine failure gives an error event {text, code: "stt-failed"} and the stage goes on. \
            Each utterance is logged at info level with its decode time after the end (utterance.final_ms) and \
            real-time factor (utterance.rtf).

            Examples:
              vx-capture --realtime question.wav | vx-vad | vx-stt
              vx-capture goforward.wav | vx-stt
              vx-capture in.wav | vx-vad | vx-stt --segmentation voice | vx-play --text
              vx-capture --device plughw:0 | vx-vad | vx-stt --log-level info
              vx-stt --from listen:/tmp/vx/stt.sock --to connect:/tmp/vx/llm.sock

            Exit status: 0 done (or stopped by SIGINT/SIGTERM, or the reader closed the pipe), 64 bad usage, \
            65 bad stream data, 66 a model file is missing or unreadable, 69 engine or peer unavailable, \
            74 I/O error.
            """
    )

    static func main() { runReportingOneLine("vx-stt") }

    /// The speech-to-text engines vx-stt can run.
    enum Engine: String, ExpressibleByArgument, CaseIterable {
        case pocketsphinx, remote
    }

    @Option(help: ArgumentHelp(
        "Speech-to-text engine: pocketsphinx (offline, decodes while you speak) or remote (an OpenAI-compatible server, sent each utterance when it ends).",
        valueName: "engine"))
    var engine: Engine = .pocketsphinx

    @OptionGroup(title: "pocketsphinx engine") var pocketsphinx: PocketSphinxOptions
    @OptionGroup(title: "remote engine") var remote: RemoteSTTOptions

    @Option(name: .customLong("partial-interval"), help: ArgumentHelp(
        "Look for a changed partial transcript every this many milliseconds of audio; 0 for no transcript-chunk events.",
        valueName: "ms"))
    var partialInterval: Int = 300

    @Option(name: .customLong("max-utterance"), help: ArgumentHelp(
        "Longest utterance in seconds: a longer one is transcribed there and the audio after it starts another.",
        valueName: "seconds"))
    var maxUtterance: Double = 30

    @Option(name: .customLong("preroll-buffer"), help: ArgumentHelp(
        "Seconds of recent audio kept, so an utterance can start at voice-started's preroll_ns.",
        valueName: "seconds"))
    var prerollBuffer: Double = 1.5

    @Option(help: ArgumentHelp(
        "Where utterances come from: auto (voice-started … voice-stopped once a voice event is seen; until then each stretch), voice (only voice events), stretch (each audio-start … audio-stop; voice events only forwarded).",
        valueName: "mode"))
    var segmentation: STTConfiguration.Segmentation = .auto

    @OptionGroup var endpoints: StageEndpoints
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard (0...60_000).contains(partialInterval) else {
            throw ValidationError("--partial-interval \(partialInterval) must be 0 to 60000 ms")
        }
        guard maxUtterance >= 0.1 && maxUtterance <= 3_600 else {
            throw ValidationError("--max-utterance \(maxUtterance) must be 0.1 to 3600 seconds")
        }
        guard prerollBuffer >= 0.01 && prerollBuffer <= 60 else {
            throw ValidationError("--preroll-buffer \(prerollBuffer) must be 0.01 to 60 seconds")
        }
    }

    var sttConfiguration: STTConfiguration {
        var configuration = STTConfiguration()
        configuration.segmentation = segmentation
        configuration.partialInterval = partialInterval == 0 ? nil : .milliseconds(partialInterval)
        configuration.maxUtterance = .milliseconds(Int64((maxUtterance * 1000).rounded()))
        configuration.prerollBuffer = .milliseconds(Int64((prerollBuffer * 1000).rounded()))
        return configuration
    }

    func run() throws {
        let running = RunningStage()
        TerminationSignals.install { _ in running.stop() }
        runTool("vx-stt", options: common) { logger in
            let transcriber = try makeTranscriber(logger: logger)
            let (reader, writer) = try endpoints.open(options: common, logger: logger)
            let stage = STTStage(engine: transcriber, configuration: sttConfiguration, reader: reader, writer: writer,
                                 logger: logger)
            running.set(stage)
            try stage.run()
        }
    }

    /// Loads the chosen engine before any input is read, so a bad model is reported at once.
    func makeTranscriber(logger: Logger) throws -> any Transcriber {
        let clock = SystemClock()
        let started = clock.now
        let transcriber: any Transcriber
        var metadata: Logger.Metadata = [:]
        switch engine {
        case .pocketsphinx:
            do {
                let decoder = try PocketSphinxTranscriber(model: pocketsphinx.model, search: pocketsphinx.search,
                                                          logFile: pocketsphinx.logFile)
                metadata["pocketsphinx.search"] = "\(pocketsphinx.search.rawValue)"
                metadata["pocketsphinx.args"] = "\(decoder.configuration.joined(separator: " "))"
                transcriber = decoder
            } catch {
                throw error.toolError
            }
        case .remote:
            transcriber = try remote.makeTranscriber(logger: logger)
        }
        metadata["stt.engine"] = "\(transcriber.name)"
        metadata["load_ms"] = "\(Int(((clock.now - started) / .milliseconds(1)).rounded()))"
        logger.info("engine ready", metadata: metadata)
        return transcriber
    }
}

extension STTConfiguration.Segmentation: ExpressibleByArgument {}

/// The stage a signal should stop, once there is one.
private final class RunningStage: Sendable {
    private let stage = Mutex<STTStage?>(nil)
    func set(_ stage: STTStage) { self.stage.withLock { $0 = stage } }
    func stop() { stage.withLock { $0 }?.stop() }
}
