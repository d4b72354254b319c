import ArgumentParser
import VAD
import VXShared

@main
struct VXVAD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vx-vad",
        abstract: "Find speech in a vx frame stream: forward every frame and insert voice-started / voice-stopped (and barge-in interrupt) events.",
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
            start of steady noise speech. voice-started and voice-stopped also carry decided_ns: the stream time \
            just after the audio that decided them (decided_ns minus timestamp_ns is how long the decision took \
            in stream time).

            Playback and barge-in: with --feedback, vx-vad reads vx-play's reports (relayed by the supervisor) on \
            a second input: playing (the assistant is audible from now), played (a stretch ended: audible for \
            --echo-tail more, the room's reverb) and interrupt (playback stopped). Nothing read there is forwarded; \
            if the peer goes away, playback counts as inaudible until a new peer says otherwise. While playback is \
            audible, a 10 ms frame counts as speech only if it is --echo-margin dB louder than the echo level, a \
            peak hold of the microphone's level during playback, learnt afresh each time playback starts (for the \
            first 300 ms of sound that comes back, at most 1 s, nothing counts as speech), so the assistant's own \
            voice neither starts a turn nor interrupts; with headphones, where playback cannot reach the \
            microphone, --echo-margin 0 turns this off. With --barge-in, vx-vad writes an interrupt event (timestamp/timestamp_ns \
            the onset of the user's speech, reason "voice", decided_ns) at most once per utterance: while playback \
            is audible, as soon as --barge-in-speech of speech is heard over it (before voice-started); otherwise \
            right after voice-started (the user speaking while the assistant thinks cancels the stale reply).

            Examples:
              vx-capture --realtime question.wav | vx-vad | vx-stt
              vx-capture q.wav | vx-vad | vx-play --text
              vx-capture q.wav | vx-vad --min-silence 900 --pre-roll 500 | vx-play --text
              vx-capture q.wav | vx-vad --engine energy | vx-play --text
              vx-capture --device plughw:0 | vx-vad --to connect:/run/user/1000/vx/stt.sock
              vx-capture --device plughw:0 | vx-vad --barge-in | vx-stt | vx-llm | vx-tts | vx-play
              vx-vad --from connect:$DIR/capture.sock --to connect:$DIR/stt.sock --feedback listen:$DIR/vad-feedback.sock --barge-in
              vx-vad --feedback connect:$DIR/play-reports.sock --barge-in --barge-in-speech 80 --echo-margin 12 --echo-tail 400

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

    @Option(help: ArgumentHelp(
        "Where vx-play's reports come back (playing, played, interrupt), to know when the assistant is audible: connect:PATH or listen:PATH. Read on a thread of its own, never forwarded. Without it, playback counts as inaudible.",
        valueName: "endpoint"))
    var feedback: Endpoint?

    @Flag(name: .customLong("barge-in"), help: ArgumentHelp(
        "Write an interrupt event when the user speaks: over audible playback after --barge-in-speech, otherwise right after voice-started; at most once per utterance."))
    var bargeIn = false

    @Option(name: .customLong("barge-in-speech"), help: ArgumentHelp(
        "Speech over audible playback that interrupts, in milliseconds; shorter than --min-speech, so the assistant falls silent before the turn is sure.",
        valueName: "ms"))
    var bargeInSpeech: Int = 100

    @Option(name: .customLong("echo-margin"), help: ArgumentHelp(
        "While playback is audible, dB above the echo level (the assistant's voice heard back through the microphone) that a frame needs to count as speech; 0 turns the echo gate off.",
        valueName: "dB"))
    var echoMargin: Double = 10

    @Option(name: .customLong("echo-tail"), help: ArgumentHelp(
        "How long playback stays audible after a stretch ended (played) or was interrupted, in milliseconds: the room's reverb.",
        valueName: "ms"))
    var echoTail: Int = 250

    @OptionGroup var endpoints: StageEndpoints

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard (0...3).contains(aggressiveness) else { throw ValidationError("--aggressiveness \(aggressiveness) is not 0, 1, 2 or 3") }
        guard (10...10_000).contains(minSpeech) else { throw ValidationError("--min-speech \(minSpeech) must be 10 to 10000 ms") }
        guard (50...100).contains(speechRatio) else { throw ValidationError("--speech-ratio \(speechRatio) must be 50 to 100 percent") }
        guard (10...60_000).contains(minSilence) else { throw ValidationError("--min-silence \(minSilence) must be 10 to 60000 ms") }
        guard (0...10_000).contains(preRoll) else { throw ValidationError("--pre-roll \(preRoll) must be 0 to 10000 ms") }
        guard maxUtterance.isFinite, maxUtterance > 0, maxUtterance <= 3600 else {
            throw ValidationError("--max-utterance \(maxUtterance) must be 0 to 3600 seconds")
        }
        guard maxUtterance * 1000 > Double(minSpeech) else {
            throw ValidationError("--max-utterance \(maxUtterance) s must be longer than --min-speech \(minSpeech) ms")
        }
        guard levelGate.isFinite, (0...60).contains(levelGate) else {
            throw ValidationError("--level-gate \(levelGate) must be 0 to 60 dB")
        }
        guard highPass.isFinite, (0...1000).contains(highPass) else {
            throw ValidationError("--high-pass \(highPass) must be 0 to 1000 Hz")
        }
        guard energyThreshold.isFinite, (0...60).contains(energyThreshold) else {
            throw ValidationError("--energy-threshold \(energyThreshold) must be 0 to 60 dB")
        }
        guard energyFloor.isFinite, (-120...0).contains(energyFloor) else {
            throw ValidationError("--energy-floor \(energyFloor) must be -120 to 0 dBFS")
        }
        if feedback == .stdio {
            throw ValidationError("--feedback - is not possible: stdin carries the audio; give connect:PATH or listen:PATH")
        }
        guard (10...10_000).contains(bargeInSpeech) else {
            throw ValidationError("--barge-in-speech \(bargeInSpeech) must be 10 to 10000 ms")
        }
        guard !bargeIn || bargeInSpeech < minSpeech else {
            throw ValidationError("--barge-in-speech \(bargeInSpeech) must be shorter than --min-speech \(minSpeech) ms")
        }
        guard echoMargin.isFinite, (0...60).contains(echoMargin) else {
            throw ValidationError("--echo-margin \(echoMargin) must be 0 to 60 dB")
        }
        guard (0...10_000).contains(echoTail) else {
            throw ValidationError("--echo-tail \(echoTail) must be 0 to 10000 ms")
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
        let configuration = VADConfiguration(
            engine: choice, turns: turns, highPass: highPass, echo: EchoGate.Configuration(margin: echoMargin),
            bargeIn: bargeIn
                ? BargeInDetector.Configuration(speech: UInt64(bargeInSpeech) * 1_000_000, speechRatio: turns.speechRatio, rearm: turns.minSilence)
                : nil)
        runTool("vx-vad", options: common) { logger in
            let playback = PlaybackState(tail: .milliseconds(echoTail))
            let detector: VoiceActivityDetector
            do {
                detector = try VoiceActivityDetector(configuration: configuration, playback: playback, logger: logger)
            } catch let error as EngineError {
                throw ToolError.unavailable(error.description)
            }
            let (reader, writer) = try endpoints.open(options: common, logger: logger)
            let reports = try feedback.map {
                PlaybackFeedback(source: try Transport(logger: logger).source($0), state: playback, maxPayload: common.maxFrame, logger: logger)
            }
            TerminationSignals.install { _ in
                detector.stop()
                reader.source.close()
                reports?.close()
            }
            reports?.start()
            try detector.run(reader: reader, writer: writer)
        }
    }
}
