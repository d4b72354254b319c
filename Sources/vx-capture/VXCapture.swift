import ArgumentParser
import Capture
import Glibc
import VXAudio
import VXShared

@main
struct VXCapture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vx-capture",
        abstract: "Read audio from files, standard input or an ALSA device and write it as a vx frame stream.",
        discussion: """
            Audio is converted to the pipeline format (16 kHz, mono, 16-bit by default) with libsoxr and \
            written as audio-start, fixed-duration audio frames and audio-stop: one stretch per file, with \
            stream time running on across files. Frames go to stdout unless --to says otherwise.

            Examples:
              vx-capture question.wav | vx-play --text
              vx-capture in.flac | vx-play out.wav
              vx-capture --realtime question.wav | vx-vad | vx-stt
              sox in.wav -t raw -r 8000 -b 16 -e signed -c 1 - |
                vx-capture --raw -r 8000 | vx-play out.wav
              vx-capture --device plughw:0 --duration 5 | vx-play take.wav
              vx-capture a.wav --to connect:/run/user/1000/vx/vad.sock

            Exit status: 0 done (or stopped by SIGINT/SIGTERM, or the reader closed the pipe), 64 bad usage, \
            65 bad audio data, 66 an input file is missing or unreadable, 69 device or peer unavailable, 74 I/O error.
            """
    )

    static func main() { runReportingOneLine("vx-capture") }

    @Argument(help: ArgumentHelp(
        "Audio files to read in order (WAV, FLAC, Ogg/Vorbis, AIFF, AU, CAF, ...); - reads a file from standard input.",
        valueName: "file"))
    var files: [String] = []

    @Option(help: ArgumentHelp("Capture from this ALSA device (default, hw:0,0, plughw:1, ...) instead of files.", valueName: "name"))
    var device: String?

    @Option(help: ArgumentHelp("With --device: stop after this many seconds (default: until SIGINT/SIGTERM).", valueName: "seconds"))
    var duration: Double?

    @Flag(help: "Read headerless PCM from standard input, described by -r, -b, -c, -e and --endian.")
    var raw = false

    @Option(name: [.customShort("r"), .customLong("raw-rate")], help: ArgumentHelp("Raw input sample rate in Hz.", valueName: "hz"))
    var rawRate: Int = 16_000

    @Option(name: [.customShort("b"), .customLong("raw-bits")], help: ArgumentHelp("Raw input bits per sample: 8, 16, 24, 32 (64 for float).", valueName: "bits"))
    var rawBits: Int = 16

    @Option(name: [.customShort("c"), .customLong("raw-channels")], help: ArgumentHelp("Raw input channels.", valueName: "n"))
    var rawChannels: Int = 1

    @Option(name: [.customShort("e"), .customLong("raw-encoding")], help: ArgumentHelp(
        "Raw input encoding: signed-integer, unsigned-integer or floating-point (signed, unsigned, float also work).", valueName: "encoding"))
    var rawEncoding: String = "signed-integer"

    @Option(name: .customLong("endian"), help: ArgumentHelp("Raw input byte order: little or big.", valueName: "order"))
    var rawEndian: String = "little"

    @Option(help: ArgumentHelp("Output sample rate in Hz.", valueName: "hz"))
    var rate: Int = AudioFormat.pipeline.rate

    @Option(help: ArgumentHelp("Output channels.", valueName: "n"))
    var channels: Int = AudioFormat.pipeline.channels

    @Option(help: ArgumentHelp("Output bytes per sample: 2 (16-bit) or 4 (32-bit).", valueName: "bytes"))
    var width: Int = AudioFormat.pipeline.width

    @Option(help: ArgumentHelp("Duration of each audio frame in milliseconds.", valueName: "ms"))
    var chunk: Int = 20

    @Flag(help: "Pace file input at real time, so a file stands in for a microphone.")
    var realtime = false

    @Option(help: ArgumentHelp(
        "Skip this many seconds of the input files before the first frame; stream time starts there (vx-chat resumes a restarted capture this way).",
        valueName: "seconds"))
    var start: Double = 0

    @Option(help: ArgumentHelp(
        "Add the audio of the frames arriving here (listen:PATH or connect:PATH) to what is read, as it comes: with vx-play --monitor, a simulated speaker-to-mic echo. Goes with --realtime.",
        valueName: "endpoint"))
    var mix: Endpoint?

    @Option(name: .customLong("mix-gain"), help: ArgumentHelp("Gain of the --mix audio, in dB.", valueName: "dB"))
    var mixGain: Double = -6

    @Option(help: ArgumentHelp("Where frames go: - (stdout), connect:PATH or listen:PATH (a Unix socket).", valueName: "endpoint"))
    var to: Endpoint = .stdio

    @OptionGroup var common: CommonOptions

    var format: AudioFormat { AudioFormat(rate: rate, width: width, channels: channels) }

    var rawFormat: RawPCMFormat? {
        let aliases = ["signed": "signed-integer", "unsigned": "unsigned-integer", "float": "floating-point"]
        guard let encoding = RawPCMFormat.Encoding(rawValue: aliases[rawEncoding] ?? rawEncoding),
              let endian = RawPCMFormat.Endian(rawValue: rawEndian)
        else { return nil }
        return RawPCMFormat(rate: rawRate, bits: rawBits, channels: rawChannels, encoding: encoding, endian: endian)
    }

    func validate() throws {
        if let problem = format.problem { throw ValidationError("output format: \(problem)") }
        guard (1...1000).contains(chunk) else { throw ValidationError("--chunk \(chunk) is not from 1 to 1000 ms") }
        let sources = (device != nil ? 1 : 0) + (raw ? 1 : 0) + (files.isEmpty ? 0 : 1)
        if sources > 1 { throw ValidationError("read from one kind of source: files, --raw or --device") }
        if realtime && device != nil { throw ValidationError("--realtime is for file input; a device keeps real time by itself") }
        let payload = AudioChunk.timestampSize + format.rate * chunk / 1000 * format.bytesPerFrame
        if payload > common.maxFrame {
            throw ValidationError("--chunk \(chunk) ms of \(format) makes \(payload)-byte frames, over --max-frame \(common.maxFrame)")
        }
        if duration != nil && device == nil { throw ValidationError("--duration goes with --device") }
        guard start.isFinite, start >= 0, start <= 1e6 else { throw ValidationError("--start \(start) is not from 0 to 1000000 seconds") }
        if start > 0 && (device != nil || raw) { throw ValidationError("--start goes with input files") }
        if mix != nil && !realtime { throw ValidationError("--mix goes with --realtime: the mixed audio comes at real time") }
        if mix == .stdio { throw ValidationError("--mix takes listen:PATH or connect:PATH") }
        guard mixGain.isFinite, (-60...20).contains(mixGain) else { throw ValidationError("--mix-gain \(mixGain) is not from -60 to 20 dB") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be more than 0 seconds") }
        if files.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input (-) can be read only once") }
        if !raw && CommandLine.arguments.contains(where: { ["-r", "-b", "-c", "-e", "--endian"].contains($0) || $0.hasPrefix("--raw-") }) {
            throw ValidationError("-r, -b, -c, -e and --endian describe headerless input and go with --raw")
        }
        if raw {
            guard let rawFormat else {
                throw ValidationError("--raw-encoding is signed-integer, unsigned-integer or floating-point and --endian little or big")
            }
            if let problem = rawFormat.problem { throw ValidationError(problem) }
        }
        if to == .stdio && isatty(1) == 1 {
            throw ValidationError("refusing to write binary frames to a terminal; pipe them into a vx tool, e.g. vx-capture in.wav | vx-play --text")
        }
    }

    func run() throws {
        if device == nil && !raw && files.isEmpty {
            // Checked here rather than in validate(), so a mistyped option is reported first.
            reportFailure(.usage("nothing to read: name audio files, - for standard input, --raw or --device (see vx-capture --help)"),
                          tool: "vx-capture", format: common.logFormat)
            Glibc.exit(SysExit.usage.rawValue)
        }
        let source: CaptureSource
        if let device {
            source = .device(device, seconds: duration)
        } else if raw, let rawFormat {
            source = .raw(rawFormat)
        } else {
            source = .files(files)
        }
        var configuration = CaptureConfiguration(source: source, format: format, chunkMilliseconds: chunk, realtime: realtime,
                                                  start: start)
        configuration.mix = mix
        configuration.mixGain = mixGain
        runTool("vx-capture", options: common) { logger in
            let writer = FrameWriter(sink: try Transport(logger: logger).sink(to))
            let capturer = Capturer(configuration: configuration, writer: writer, logger: logger)
            TerminationSignals.install { _ in capturer.stop() }
            try capturer.run()
        }
    }
}
