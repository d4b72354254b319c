import ArgumentParser
import VAD
import VXShared

@main
struct VXVAD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vx-vad",
        abstract: "Find speech in a vx frame stream: forward every frame and insert voice-started / voice-stopped events.",
        discussion: """
            Every frame is forwarded unchanged and in order, audio included. A copy of the audio is converted \
            to 16 kHz mono (from any format), high-passed against hum and rumble, and judged in 10 ms frames by \
            the WebRTC voice activity detector (with a level gate: a frame must also stand out from the \
            background noise floor) or by a plain energy detector.

            voice-started is written once --min-speech of speech is heard, right after the audio that decided \
            it. Its timestamp/timestamp_ns is the stream time of the real onset (the first speech frame), and \
            preroll_ns the stream time --pre-roll earlier (not before the stretch began), from which a recogniser \
            should take the audio it has kept. voice-stopped is written after --min-silence of silence, with the \
            stream time where the speech really ended (the detector's hangover taken off) and reason "silence"; \
            "max-utterance" when an utterance reaches --max-utterance (detection goes on, a new voice-started \
            needs --min-speech again); "audio-stop" when the stretch or the input ends inside an utterance \
            (written before the forwarded audio-stop). There is never a voice-stopped without its voice-started. \
            The first 200 ms the detector hears never start an utterance: a fresh WebRTC detector calls the \
            start of steady noise speech.

            Examples:
              vx-capture --realtime question.wav | vx-vad | vx-stt
              vx-capture q.wav | vx-vad | vx-play --text
              vx-capture q.wav | vx-vad --min-silence 900 --pre-roll 500 | vx-play --text
              vx-capture q.wav | vx-vad --engine energy | vx-play --text
              vx-capture --device plughw:0 | vx-vad --to connect:/run/user/1000/vx/stt.sock

            Exit status: 0 done (or stopped by SIGINT/SIGTERM, or the reader closed the pipe), 64 bad usage, \
            65 bad stream data, 69 peer or engine unavailable, 74 I/O error.
            """
    )

    static func main() { runReportingOneLine("vx-vad") }

    enum Engine: String, ExpressibleByArgument, CaseIterable {
        case webrtc, energy
    }

    @Option(help: ArgumentHelp("Speech detector: webrtc (WebRTC's GMM detector) or energy (level above an adaptive noise floor).",
                               valueName: "engine"))
    var engine: Engine = .webrtc

    @Option(help: ArgumentHelp(
        "WebRTC aggressiveness, 0 (calls most things speech) to 3 (most eager to call noise non-speech; best in noise and hum).",
        valueName: "0-3"))
    var aggressiveness: Int = 3

    @Option(name: .customLong("level-gate"), help: ArgumentHelp(
        "WebRTC engine: a frame must also be this many dB above the noise floor (the quietest level of the last 2 s) to count as speech, against steady hum, rumble and distant talk; 0 for none.",
        valueName: "dB"))
    var levelGate: Double = 12

    @Option(name: .customLong("min-speech"), help: ArgumentHelp(
        "Speech needed to start an utterance, in milliseconds: a window this long that begins and ends in speech, is at least --speech-ratio speech and at least half clearly above the noise floor. Shorter gives false starts in noise; longer clips onsets.",
        valueName: "ms"))
    var minSpeech: Int = 200

    @Option(name: .customLong("speech-ratio"), help: ArgumentHelp(
        "Share of speech among the 10 ms frames of the --min-speech window, in percent; below 100 tolerates the detector's flicker.",
        valueName: "percent"))
    var speechRatio: Int = 80

    @Option(name: .customLong("min-silence"), help: ArgumentHelp(
        "Silence after the last speech that ends an utterance, in milliseconds. Pauses between words are shorter.",
        valueName: "ms"))
    var minSilence: Int = 600

    @Option(name: .customLong("pre-roll"), help: ArgumentHelp(
        "Audio before the onset a recogniser should take (voice-started's preroll_ns), in milliseconds.",
        valueName: "ms"))
    var preRoll: Int = 400

    @Option(name: .customLong("max-utterance"), help: ArgumentHelp(
        "Longest utterance, in seconds; a longer one is stopped (reason max-utterance) and detection goes on.",
        valueName: "seconds"))
    var maxUtterance: Double = 30

    @Option(name: .customLong("high-pass"), help: ArgumentHelp(
        "High-pass cutoff in Hz applied to the analysed copy (not the forwarded audio), against hum and rumble; 0 for none.",
        valueName: "hz"))
    var highPass: Double = 120

    @Option(name: .customLong("energy-threshold"), help: ArgumentHelp(
        "Energy engine: dB above the adaptive noise floor that count as speech.", valueName: "dB"))
    var energyThreshold: Double = EnergyVoiceEngine.Settings().threshold

    @Option(name: .customLong("energy-floor"), help: ArgumentHelp(
        "Energy engine: level in dBFS below which nothing counts as speech.", valueName: "dBFS"))
    var energyFloor: Double = EnergyVoiceEngine.Settings().floor

    @OptionGroup var endpoints: StageEndpoints

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard (0...3).contains(aggressiveness) else { throw ValidationError("--aggressiveness \(aggressiveness) is not 0, 1, 2 or 3") }
        guard (10...10_000).contains(minSpeech) else { throw ValidationError("--min-speech \(minSpeech) is outside 10...10000 ms") }
        guard (50...100).contains(speechRatio) else { throw ValidationError("--speech-ratio \(speechRatio) is outside 50...100 percent") }
        guard (10...60_000).contains(minSilence) else { throw ValidationError("--min-silence \(minSilence) is outside 10...60000 ms") }
        guard (0...10_000).contains(preRoll) else { throw ValidationError("--pre-roll \(preRoll) is outside 0...10000 ms") }
        guard maxUtterance.isFinite, maxUtterance > 0, maxUtterance <= 3600 else {
            throw ValidationError("--max-utterance \(maxUtterance) is outside 0...3600 seconds")
        }
        guard maxUtterance * 1000 > Double(minSpeech) else {
            throw ValidationError("--max-utterance \(maxUtterance) s must be longer than --min-speech \(minSpeech) ms")
        }
        guard levelGate.isFinite, (0...60).contains(levelGate) else {
            throw ValidationError("--level-gate \(levelGate) is outside 0...60 dB")
        }
        guard highPass.isFinite, (0...1000).contains(highPass) else {
            throw ValidationError("--high-pass \(highPass) is outside 0...1000 Hz")
        }
        guard energyThreshold.isFinite, (0...60).contains(energyThreshold) else {
            throw ValidationError("--energy-threshold \(energyThreshold) is outside 0...60 dB")
        }
        guard energyFloor.isFinite, (-120...0).contains(energyFloor) else {
            throw ValidationError("--energy-floor \(energyFloor) is outside -120...0 dBFS")
        }
    }

    func run() throws {
        var turns = TurnDetector.Configuration(
            minSpeech: UInt64(minSpeech) * 1_000_000, minSilence: UInt64(minSilence) * 1_000_000,
            preRoll: UInt64(preRoll) * 1_000_000, maxUtterance: UInt64((maxUtterance * 1e9).rounded()))
        turns.speechRatio = Double(speechRatio) / 100
        let choice: EngineChoice = switch engine {
        case .webrtc: .webrtc(aggressiveness: aggressiveness, levelGate: levelGate)
        case .energy: .energy(EnergyVoiceEngine.Settings(threshold: energyThreshold, floor: energyFloor))
        }
        runTool("vx-vad", options: common) { logger in
            let detector: VoiceActivityDetector
            do {
                detector = try VoiceActivityDetector(configuration: VADConfiguration(engine: choice, turns: turns, highPass: highPass), logger: logger)
            } catch let error as EngineError {
                throw ToolError.unavailable(error.description)
            }
            let (reader, writer) = try endpoints.open(options: common, logger: logger)
            TerminationSignals.install { _ in
                detector.stop()
                reader.source.close()
            }
            try detector.run(reader: reader, writer: writer)
        }
    }
}
