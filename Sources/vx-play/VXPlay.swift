#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Playback
import VXShared

@main
struct VXPlay: ParsableCommand {
    static func main() { runReportingOneLine("vx-play") }

    static let configuration = CommandConfiguration(
        commandName: "vx-play",
        abstract: "Play a vx frame stream on an ALSA device, or write it to an audio file, raw PCM or text.",
        discussion: """
            Reads frames (stdin by default) and plays each stretch of audio, audio-start to audio-stop. \
            A file or raw output has one format: --rate/--channels/--width, else the first audio-start's; \
            later stretches in another format are resampled and remixed to it. A device is reopened for \
            each new format instead.

            An interrupt event silences the output at once and drops the queued audio; audio after it \
            plays normally. Each stretch gets one `playing` event {timestamp, timestamp_ns: stream time of \
            its first sample} the moment its first audio goes to the output (the device, or the file or raw \
            output, paced or not), and then one `played` event once heard, or when an interrupt cuts it \
            (then with interrupted: true, the samples actually heard and silence_us, the time from reading \
            the interrupt to silence); a stretch cut while still queued gets no `playing`. The reader reads \
            ahead of playback, up to --queue-limit seconds of audio, so an interrupt behind queued audio acts \
            at once; a supervisor whose replies come much faster than real time should set --queue-limit \
            above its longest reply (queued audio costs about its PCM size: 32 KB a second of vx-tts's 16 kHz mono 16-bit). \
            Other events are forwarded unchanged as they arrive, to --to: by \
            default stdout as frames (as text lines on a terminal), or the log when the audio itself goes to stdout.

            SIGINT or SIGTERM stops playback, finishes the file with what it holds, and exits 0.

            Examples:
              vx-capture in.flac | vx-play out.wav
              vx-capture in.wav | vx-play --text
              vx-capture in.wav | vx-play --text-pcm > stream.jsonl
              vx-play out.wav < stream.jsonl
              vx-capture in.wav | vx-play --device plughw:0
              vx-capture in.wav | vx-play --rate 48000 - | aplay -t raw -f S16_LE -r 48000
              vx-play --from listen:/run/vx/play.sock --to connect:/run/vx/supervisor.sock
            """
    )

    @Argument(help: ArgumentHelp(
        "Audio file to write (type from its extension: .wav, .flac, .ogg, .aiff, .au, .caf, .w64), or - for raw PCM on stdout. Without it, plays on an ALSA device.",
        valueName: "output"))
    var output: String?

    @Option(help: ArgumentHelp("ALSA device to play on, when there is no OUTPUT (\"null\" discards the audio). Default: default.",
                               valueName: "name"))
    var device: String?

    @Option(help: ArgumentHelp("Where frames come from: -, connect:PATH or listen:PATH.", valueName: "endpoint"))
    var from: Endpoint = .stdio

    @Option(help: ArgumentHelp(
        "Where forwarded events and playing/played reports go: -, connect:PATH or listen:PATH. Default: stdout (text lines on a terminal; the log when OUTPUT is -).",
        valueName: "endpoint"))
    var to: Endpoint?

    @Flag(help: "Play nothing: write every frame to stdout as a JSON text line, audio summarised.")
    var text = false

    @Flag(name: .customLong("text-pcm"), help: "Like --text, with the samples in base64, so the text can be fed back to any vx tool.")
    var textPCM = false

    @Option(help: ArgumentHelp("Output sample rate in Hz. Default: the first audio-start's.", valueName: "hz"))
    var rate: Int?

    @Option(help: ArgumentHelp("Output channel count. Default: the first audio-start's.", valueName: "n"))
    var channels: Int?

    @Option(help: ArgumentHelp("Output sample width in bytes: 2 (16-bit) or 4 (32-bit). Default: the first audio-start's.",
                               valueName: "bytes"))
    var width: Int?

    @Option(name: .customLong("queue-limit"), help: ArgumentHelp(
        "Most audio queued ahead of playback, in seconds (up to 3600); when full, input waits, and so does an interrupt behind it.", valueName: "seconds"))
    var queueLimit: Double = 10

    @Option(help: ArgumentHelp(
        "Also send the audio, as frames, to this endpoint (connect:PATH or listen:PATH) as each piece is played: vx-capture --mix adds it to a file it reads, simulating a speaker-to-mic echo.",
        valueName: "endpoint"))
    var monitor: Endpoint?

    @Flag(help: "Write a file or raw output at real-time pace, as a device plays (interrupts then cut it as they would a device).")
    var realtime = false

    @OptionGroup var common: CommonOptions

    var stdoutIsTerminal: Bool { isatty(1) == 1 }

    func validate() throws {
        let textMode = text || textPCM
        if output != nil && device != nil {
            throw ValidationError("--device plays on a device; it cannot be used with OUTPUT \(output!)")
        }
        if textMode {
            if let output { throw ValidationError("--text writes to stdout; it cannot be used with OUTPUT \(output)") }
            if device != nil { throw ValidationError("--text plays nothing; it cannot be used with --device") }
            if rate != nil || channels != nil || width != nil {
                throw ValidationError("--rate, --channels and --width set an audio output's format; --text shows the stream as it is")
            }
            if realtime { throw ValidationError("--realtime paces an audio output; --text writes frames as they arrive") }
            if monitor != nil { throw ValidationError("--monitor copies played audio; --text plays nothing") }
        }
        if let output {
            if output == "-" {
                if stdoutIsTerminal {
                    throw ValidationError("OUTPUT - writes raw PCM to stdout, which is a terminal; redirect or pipe it")
                }
            } else if output.isEmpty {
                throw ValidationError("OUTPUT is empty; give a file name or -")
            }
        }
        if let problem = FormatOverride(rate: rate, width: width, channels: channels).problem {
            throw ValidationError(problem)
        }
        if monitor == .stdio { throw ValidationError("--monitor takes connect:PATH or listen:PATH: stdout carries the events") }
        guard queueLimit.isFinite, queueLimit > 0, queueLimit <= 3600 else {
            throw ValidationError("--queue-limit \(queueLimit) must be more than 0 and at most 3600 seconds")
        }
        do {
            _ = try EventDestination.resolve(to: to, output: playerOutput, stdoutIsTerminal: stdoutIsTerminal)
        } catch {
            throw ValidationError(error.message)
        }
    }

    var playerOutput: PlayerConfiguration.Output {
        if text || textPCM { return .text(includePCM: textPCM) }
        switch output {
        case nil: return .device(device ?? "default")
        case "-": return .raw
        case let path?: return .file(path)
        }
    }

    func run() throws {
        runTool("vx-play", options: common) { logger in
            let output = playerOutput
            var configuration = PlayerConfiguration(
                output: output,
                input: from,
                events: try EventDestination.resolve(to: to, output: output, stdoutIsTerminal: stdoutIsTerminal),
                format: FormatOverride(rate: rate, width: width, channels: channels),
                queueLimit: .nanoseconds(Int64(queueLimit * 1e9)),
                realtime: realtime,
                maxFrame: common.maxFrame
            )
            configuration.monitor = monitor
            try Player(configuration: configuration, logger: logger).run()
        }
    }
}
