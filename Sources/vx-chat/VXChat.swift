#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Chat
import VXShared

@main
struct VXChat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vx-chat",
        abstract: "Run a spoken conversation: the six vx stages wired over Unix sockets, supervised.",
        discussion: """
            vx-chat starts vx-capture → vx-vad → vx-stt → vx-llm → vx-tts → vx-play, each reading from a Unix \
            socket in a private runtime directory, so any one of them can die and be restarted while the \
            others keep running. It checks the whole pipeline answers a ping before it opens the microphone, \
            restarts a stage that dies (with backoff; more than --max-restarts within --restart-window stops \
            the chat, naming the stage and its last lines), and on Ctrl-C or SIGTERM stops every stage in \
            order and removes the sockets.

            Live mode (the default) listens on --device and speaks on --output-device. File mode \
            (--input/--output) feeds a recorded question in at real time, as a microphone would, writes \
            the spoken answers at real time, as a speaker would, and ends after the last reply.

            When the user speaks over the assistant, vx-vad interrupts it: vx-llm cancels, vx-tts stops, \
            vx-play goes silent, and vx-llm keeps in its history only what the user heard. While the \
            assistant is audible, the user's voice must be clearly louder than its echo to count.

            Every turn is reported on one line: end of speech → final transcript → first reply text → \
            first audio → first sample played, and voice-to-voice with and without the end-of-turn silence; \
            a p50/p95 summary comes at the end. On a terminal, a live screen shows what is happening.

            Settings come from flags, then VX_* variables, then the config file ($XDG_CONFIG_HOME/vx/chat.toml \
            or ~/.config/vx/chat.toml, or --config), then defaults; --print-config shows them all with their \
            sources. Any stage can be replaced by a program taking the same arguments (--llm-command ...).

            Examples:
              vx-chat
              vx-chat --input question.wav --output answer.wav
              vx-chat --device plughw:1 --output-device plughw:1 --log-level info
              vx-chat --input q.wav --output a.wav --llm-command ./scripted-llm --turns-file turns.jsonl
              vx-chat --input q.wav --output a.wav --echo=-6     # the answers come back into the "microphone"
              vx-chat --vad-arg=--min-silence --vad-arg=500 --print-config

            Exit status: 0 file mode finished; 130 or 143 stopped by SIGINT or SIGTERM; 64 bad usage; 66 the \
            input cannot be read; 69 no sound card, a tool missing, or a stage failing too often; 74 the log \
            or runtime directory cannot be made; 75 the last reply did not finish within --drain-timeout.
            """
    )

    static func main() { runReportingOneLine("vx-chat") }

    @Option(help: ArgumentHelp("File mode: the recorded question (any sound file).", valueName: "file"))
    var input: String?
    @Option(help: ArgumentHelp("File mode: the WAV file the spoken answers go to.", valueName: "file"))
    var output: String?
    @Option(help: ArgumentHelp("Live mode: ALSA capture device. Default: default.", valueName: "name"))
    var device: String?
    @Option(name: .customLong("output-device"), help: ArgumentHelp("Live mode: ALSA playback device. Default: default.", valueName: "name"))
    var outputDevice: String?
    @Option(name: .customLong("config"), help: ArgumentHelp("Config file (TOML) to read. Default: $VX_CONFIG, else ~/.config/vx/chat.toml if it exists.", valueName: "file"))
    var config: String?
    @Flag(name: .customLong("print-config"), help: "Print every setting, its value and where it came from, as a config file, and exit.")
    var printConfig = false
    @Option(name: .customLong("runtime-dir"), help: ArgumentHelp("Private directory for the sockets. Default: $XDG_RUNTIME_DIR/vx-chat.PID.", valueName: "dir"))
    var runtimeDir: String?
    @Option(name: .customLong("log-file"), help: ArgumentHelp("Every stage's log lines are appended here. Default: ~/.local/state/vx/vx-chat.log.", valueName: "file"))
    var logFile: String?
    @Option(name: .customLong("log-level"), help: ArgumentHelp("Least severe level shown on stderr. Default: notice.", valueName: "level"))
    var logLevel: String?
    @Option(name: .customLong("bin-dir"), help: ArgumentHelp("Where the vx tools are. Default: beside vx-chat.", valueName: "dir"))
    var binDir: String?
    @Option(help: ArgumentHelp("vx-llm's conversation file. Default: vx-llm's (~/.local/state/vx/session.jsonl).", valueName: "file"))
    var session: String?
    @Option(name: .customLong("max-restarts"), help: ArgumentHelp("Restarts of one stage allowed within --restart-window. Default: 5.", valueName: "n"))
    var maxRestarts: String?
    @Option(name: .customLong("restart-window"), help: ArgumentHelp("Seconds over which restarts are counted. Default: 60.", valueName: "seconds"))
    var restartWindow: String?
    @Option(name: .customLong("ready-timeout"), help: ArgumentHelp("Seconds the stages have to start. Default: 300.", valueName: "seconds"))
    var readyTimeout: String?
    @Option(name: .customLong("drain-timeout"), help: ArgumentHelp("File mode: seconds to wait for the last reply after the input ends. Default: 120.", valueName: "seconds"))
    var drainTimeout: String?
    @Option(help: ArgumentHelp("File mode: keep real time (true) or run as fast as the stages go (false). Default: true.", valueName: "bool"))
    var realtime: String?
    @Option(help: ArgumentHelp("File mode: simulate a speaker-to-mic echo, adding the answers as they play to the input at this gain (e.g. -6).", valueName: "dB"))
    var echo: String?
    @Option(name: .customLong("barge-in"), help: ArgumentHelp("Let the user's voice interrupt the assistant: true or false. Default: true.", valueName: "bool"))
    var bargeIn: String?
    @Option(help: ArgumentHelp("auto, live (the screen) or plain (log lines). Default: auto.", valueName: "view"))
    var view: String?
    @Option(name: .customLong("turns-file"), help: ArgumentHelp("Append one JSON line per turn with its latency.", valueName: "file"))
    var turnsFile: String?

    @Option(name: .customLong("capture-arg"), help: ArgumentHelp("An extra argument for vx-capture (repeat it).", valueName: "arg"))
    var captureArgs: [String] = []
    @Option(name: .customLong("vad-arg"), help: ArgumentHelp("An extra argument for vx-vad (repeat it).", valueName: "arg"))
    var vadArgs: [String] = []
    @Option(name: .customLong("stt-arg"), help: ArgumentHelp("An extra argument for vx-stt (repeat it).", valueName: "arg"))
    var sttArgs: [String] = []
    @Option(name: .customLong("llm-arg"), help: ArgumentHelp("An extra argument for vx-llm (repeat it).", valueName: "arg"))
    var llmArgs: [String] = []
    @Option(name: .customLong("tts-arg"), help: ArgumentHelp("An extra argument for vx-tts (repeat it).", valueName: "arg"))
    var ttsArgs: [String] = []
    @Option(name: .customLong("play-arg"), help: ArgumentHelp("An extra argument for vx-play (repeat it).", valueName: "arg"))
    var playArgs: [String] = []

    @Option(name: .customLong("capture-command"), help: ArgumentHelp("A program standing in for vx-capture.", valueName: "path"))
    var captureCommand: String?
    @Option(name: .customLong("vad-command"), help: ArgumentHelp("A program standing in for vx-vad.", valueName: "path"))
    var vadCommand: String?
    @Option(name: .customLong("stt-command"), help: ArgumentHelp("A program standing in for vx-stt.", valueName: "path"))
    var sttCommand: String?
    @Option(name: .customLong("llm-command"), help: ArgumentHelp("A program standing in for vx-llm.", valueName: "path"))
    var llmCommand: String?
    @Option(name: .customLong("tts-command"), help: ArgumentHelp("A program standing in for vx-tts.", valueName: "path"))
    var ttsCommand: String?
    @Option(name: .customLong("play-command"), help: ArgumentHelp("A program standing in for vx-play.", valueName: "path"))
    var playCommand: String?

    /// The flags given, as (setting, value, spelling), in the order of `ConfigKey.all`.
    func flagValues() throws -> [(key: String, value: ConfigValue, flag: String)] {
        var given: [(String, String?)] = [
            ("input", input), ("output", output), ("device", device), ("output_device", outputDevice),
            ("runtime_dir", runtimeDir), ("log_file", logFile), ("log_level", logLevel), ("bin_dir", binDir),
            ("session", session), ("max_restarts", maxRestarts), ("restart_window", restartWindow),
            ("ready_timeout", readyTimeout), ("drain_timeout", drainTimeout), ("realtime", realtime), ("echo", echo), ("barge_in", bargeIn), ("view", view),
            ("turns_file", turnsFile),
        ]
        let commands: [(StageName, String?)] = [
            (.capture, captureCommand), (.vad, vadCommand), (.stt, sttCommand), (.llm, llmCommand),
            (.tts, ttsCommand), (.play, playCommand),
        ]
        for (stage, command) in commands { given.append(("\(stage.rawValue).command", command)) }
        var flags: [(key: String, value: ConfigValue, flag: String)] = []
        for (name, text) in given {
            guard let text, let key = ConfigKey.named(name) else { continue }
            do { flags.append((name, try key.parse(text, source: key.flag), key.flag)) } catch { throw ValidationError(error.message) }
        }
        let args: [(StageName, [String])] = [
            (.capture, captureArgs), (.vad, vadArgs), (.stt, sttArgs), (.llm, llmArgs), (.tts, ttsArgs), (.play, playArgs),
        ]
        for (stage, list) in args where !list.isEmpty {
            flags.append(("\(stage.rawValue).args", .strings(list), "--\(stage.rawValue)-arg"))
        }
        return flags
    }

    func run() throws {
        do {
            try chat()
        } catch let failure as ToolError {
            reportFailure(failure, tool: "vx-chat", format: .logfmt)
            Glibc.exit(failure.exit.rawValue)
        }
    }

    func chat() throws {
        let environment = ChatSetup.environment()
        let resolved: ResolvedConfig
        do {
            resolved = try ConfigLoader.resolve(flags: flagValues(), configFile: config, environment: environment)
        } catch let error as ConfigError {
            throw ToolError(error.message, exit: .usage)
        }
        if printConfig {
            print(ConfigLoader.render(resolved), terminator: "")
            return
        }
        var settings = resolved.settings
        if settings.input != nil && settings.output == nil { settings.output = "answer.wav" }
        settings.logFile = settings.logFile ?? ChatSetup.defaultLogFile(environment: environment)
        let binDir = settings.binDir ?? ChatSetup.ownDirectory() ?? "."
        try ChatSetup.check(settings, binDir: binDir)
        let runtimeDir = try ChatSetup.runtimeDirectory(settings.runtimeDir, environment: environment)
        let logFD = try settings.logFile.map(ChatSetup.openLog)
        let turnsFD = try settings.turnsFile.map(ChatSetup.openLog)
        let live = settings.view == .live || (settings.view == .auto && isatty(2) == 1)
        let screen = live ? LiveView() : nil
        let logs = LogSink(level: settings.logLevel, file: logFD, view: screen)
        let plan = StagePlan(settings: settings, runtimeDir: runtimeDir, binDir: binDir, stageLevel: logs.stageLevel)
        let supervisor = Supervisor(plan: plan, logs: logs, view: screen, environment: environment, turnsFile: turnsFD)
        let ending = supervisor.run()
        if case .stageFailed(let message) = ending {
            let text = "vx-chat: \(message)\n"
            LogSink.writeAll(2, text)
        }
        Glibc.exit(ending.exitStatus)
    }
}
