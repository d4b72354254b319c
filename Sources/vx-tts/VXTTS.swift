import ArgumentParser
import Synchronization
import TTS
import VXShared

@main
struct VXTTS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vx-tts",
        abstract: "Speak the replies in a vx frame stream: text in, audio out, every event forwarded.",
        discussion: """
            vx-tts forwards every event unchanged and in order, and speaks: the reply-chunk deltas of a reply \
            (from vx-llm) are cut into sentences, and each sentence is synthesised the moment it is complete, so \
            the first sentence is heard while the rest of the reply is still being written. A reply becomes one \
            audio stretch: audio-start (16 kHz mono 16-bit unless --rate says otherwise) with its first sentence's \
            audio, 20 ms audio frames, audio-stop after its last sentence. A synthesize event {text, voice?: {name}} \
            is spoken the same way, as a stretch of its own. Before each sentence's audio comes a spoken event \
            {text, timestamp, timestamp_ns, end_ns, synth_ms, id}: the sentence, where its audio lies on vx-tts's \
            clock, the milliseconds its audio took to be ready (about 0 from the cache) and, for a reply, the \
            reply's id. \
            That clock counts the nanoseconds of audio synthesised since vx-tts started, continuous across \
            replies; vx-play's played reports use it, so they can be matched to the words heard. Audio that \
            comes in is dropped.

            An interrupt (barge-in) stops synthesis within one engine chunk, drops the text still to be spoken, \
            and is forwarded followed by audio-stop; no audio of the interrupted reply comes after it. The rest \
            of a reply that was still streaming is not spoken; the next reply is.

            Sentences are cached on disk (--cache-dir, LRU, --cache-size), so repeated phrases come back at once. \
            A failing engine gives an error event {text, code} and the stage goes on.

            Examples:
              echo '{"type":"synthesize","data":{"text":"Hello there."}}' | vx-tts | vx-play out.wav
              vx-capture --realtime q.wav | vx-vad | vx-stt | vx-llm | vx-tts | vx-play
              vx-tts --engine espeak --voice de < request.jsonl | vx-play --text
              vx-tts --voice slt --rate 22050 --from listen:/run/user/1000/vx/tts.sock --to connect:/run/user/1000/vx/play.sock
              VX_TTS_API_KEY=sk-... vx-tts --engine remote --remote-url https://api.openai.com --voice alloy

            Exit status: 0 done (or stopped by SIGINT/SIGTERM, or the reader closed the pipe), 64 bad usage \
            (an unknown voice too), 65 bad stream data, 69 engine or peer unavailable, 74 I/O error.
            """
    )

    static func main() { runReportingOneLine("vx-tts") }

    enum Engine: String, ExpressibleByArgument, CaseIterable {
        case flite, espeak, remote
    }

    @Option(help: ArgumentHelp(
        "Speech engine: flite (offline, US English), espeak (offline, many languages) or remote (an OpenAI-compatible service).",
        valueName: "engine"))
    var engine: Engine = .flite

    @Option(help: ArgumentHelp(
        "Voice: flite kal16 (default), kal or slt; espeak-ng en-us (default), en, de, fr, ... (espeak-ng --voices); remote: the service's (default alloy).",
        valueName: "name"))
    var voice: String?

    @Option(help: ArgumentHelp("Output sample rate in Hz (audio is mono 16-bit).", valueName: "hz"))
    var rate: Int = AudioFormat.pipeline.rate

    @Option(name: .customLong("max-sentence"), help: ArgumentHelp(
        "Longest sentence sent to the engine, in characters: a run-on sentence is cut at a comma from half this length, at a space at this length.",
        valueName: "chars"))
    var maxSentence: Int = 200

    @Option(name: .customLong("cache-dir"), help: ArgumentHelp(
        "Where synthesised sentences are cached. Default: $XDG_CACHE_HOME/vx/tts, else ~/.cache/vx/tts.", valueName: "dir"))
    var cacheDirectory: String?

    @Option(name: .customLong("cache-size"), help: ArgumentHelp(
        "Most megabytes the cache may take; least recently used sentences are evicted first.", valueName: "MB"))
    var cacheSize: Double = 50

    @Flag(name: .customLong("no-cache"), help: "Do not read or write the sentence cache.")
    var noCache = false

    @OptionGroup(title: "Remote engine (--engine remote)") var remote: RemoteOptions

    @OptionGroup var endpoints: StageEndpoints

    @OptionGroup var common: CommonOptions

    var format: AudioFormat { AudioFormat(rate: rate, width: 2, channels: 1) }

    func validate() throws {
        guard (8_000...192_000).contains(rate) else { throw ValidationError("--rate \(rate) must be 8000 to 192000 Hz") }
        guard (20...5_000).contains(maxSentence) else { throw ValidationError("--max-sentence \(maxSentence) must be 20 to 5000 characters") }
        guard cacheSize >= 0, cacheSize.isFinite else { throw ValidationError("--cache-size must be 0 MB or more") }
        if let voice, voice.isEmpty { throw ValidationError("--voice needs a name") }
        if engine == .flite, let voice, !FliteEngine.voiceNames.contains(voice) {
            throw ValidationError("flite has no voice '\(voice)': use kal16, kal or slt")
        }
        if engine == .remote, let problem = remote.settings.problem { throw ValidationError(problem) }
        if engine != .remote, remote.url != nil { throw ValidationError("--remote-url goes with --engine remote") }
        if let problem = remote.settings.formatProblem { throw ValidationError(problem) }
    }

    func run() throws {
        let format = self.format
        let running = RunningStage()
        TerminationSignals.install { _ in running.stop() }
        runTool("vx-tts", options: common) { logger in
            let engine = try EngineChoice(rawValue: engine.rawValue)!.makeEngine(remote: remote.settings, logger: logger)
            let voice = self.voice ?? engine.defaultVoice
            do {
                try engine.checkVoice(voice)
            } catch let error as TTSError {
                throw ToolError.usage("\(error)")
            }
            let cache = noCache ? nil : SpeechCache.opened(directory: cacheDirectory, megabytes: cacheSize, logger: logger)
            let synthesizer = SentenceSynthesizer(engine: engine, format: format, cache: cache)
            let (reader, writer) = try endpoints.open(options: common, logger: logger)
            let stage = TTSStage(synthesizer: synthesizer,
                                 configuration: TTSConfiguration(voice: voice, format: format, maxSentence: maxSentence),
                                 reader: reader, writer: writer, logger: logger)
            running.set(stage)
            logger.info("ready", metadata: ["engine": "\(engine.name)", "voice": "\(voice)", "format": "\(format)"])
            try stage.run()
        }
    }
}

/// How to reach an OpenAI-compatible speech service.
struct RemoteOptions: ParsableArguments {
    @Option(name: .customLong("remote-url"), help: ArgumentHelp(
        "The service's base URL; vx-tts posts to {base}/v1/audio/speech.", valueName: "url"))
    var url: String?

    @Option(name: .customLong("remote-model"), help: ArgumentHelp("The model asked for.", valueName: "name"))
    var model: String = "tts-1"

    @Option(name: .customLong("remote-format"), help: ArgumentHelp(
        "Response format asked for: wav (16-bit PCM WAV) or pcm (raw 16-bit mono at --remote-pcm-rate).", valueName: "format"))
    var format: String = "wav"

    @Option(name: .customLong("remote-pcm-rate"), help: ArgumentHelp("Sample rate of pcm responses.", valueName: "hz"))
    var pcmRate: Int = 24_000

    @Option(name: .customLong("remote-timeout"), help: ArgumentHelp("Longest wait for one sentence, in seconds.", valueName: "seconds"))
    var timeout: Double = 30

    @Option(name: .customLong("api-key-env"), help: ArgumentHelp(
        "Environment variable holding the service's API key, sent as a bearer token (not a flag, so it stays out of ps).",
        valueName: "name"))
    var apiKeyVariable: String = "VX_TTS_API_KEY"

    var settings: RemoteSettings {
        RemoteSettings(url: url, model: model, format: format, pcmRate: pcmRate, timeoutSeconds: timeout,
                       apiKeyVariable: apiKeyVariable)
    }
}

/// The stage a signal should stop, once there is one.
private final class RunningStage: Sendable {
    private let stage = Mutex<TTSStage?>(nil)
    func set(_ stage: TTSStage) { self.stage.withLock { $0 = stage } }
    func stop() { stage.withLock { $0 }?.stop() }
}
