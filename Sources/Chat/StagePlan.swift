#if canImport(Glibc)
import Glibc
#endif
import Logging

/// How the six stages are wired in a chat: their sockets in the runtime directory and each one's
/// command line.
///
///     vx-capture → vad.sock → vx-vad → stt.sock → vx-stt → llm.sock → vx-llm → tts.sock → vx-tts
///       → play.sock → vx-play → events.sock → vx-chat
///     vx-chat → vad-feedback.sock → vx-vad        (vx-play's playing / played reports)
///     vx-chat → llm-feedback.sock → vx-llm        (heard: what the user heard of a cut reply)
///
/// Every stage but vx-capture listens on its input, so a restarted stage takes up where the dead
/// one was: the stage before it reconnects, the stage after it gets a new peer.
public struct StagePlan: Sendable {
    public let settings: ChatSettings
    public let runtimeDir: String
    public let binDir: String
    public let stageLevel: Logger.Level

    public init(settings: ChatSettings, runtimeDir: String, binDir: String, stageLevel: Logger.Level) {
        self.settings = settings
        self.runtimeDir = runtimeDir
        self.binDir = binDir
        self.stageLevel = stageLevel
    }

    /// The socket a stage reads from (vx-capture has none: it reads the microphone or the file).
    public func input(of stage: StageName) -> String? {
        stage == .capture ? nil : "\(runtimeDir)/\(stage.rawValue).sock"
    }

    public var events: String { "\(runtimeDir)/events.sock" }
    public var vadFeedback: String { "\(runtimeDir)/vad-feedback.sock" }
    public var llmFeedback: String { "\(runtimeDir)/llm-feedback.sock" }
    /// File mode with `echo`: vx-play's copy of what it plays, mixed into vx-capture's input.
    public var echoSocket: String { "\(runtimeDir)/echo.sock" }

    /// The program run for a stage: its stand-in command if one is set, else the tool in `binDir`.
    public func executable(for stage: StageName) -> String {
        guard let command = settings.commands[stage] else { return "\(binDir)/\(stage.tool)" }
        if command.hasPrefix("/") { return command }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let cwd = getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? "."
        return "\(cwd)/\(command)"
    }

    /// A stage's arguments. `resumeAt` (seconds) restarts vx-capture's file that far in.
    public func arguments(for stage: StageName, resumeAt: Double = 0) -> [String] {
        var args: [String] = []
        let next = StageName.allCases.firstIndex(of: stage).map { $0 + 1 }.flatMap {
            $0 < StageName.allCases.count ? StageName.allCases[$0] : nil
        }
        if let input = input(of: stage) { args += ["--from", "listen:\(input)"] }
        args += ["--to", "connect:\(next.flatMap(input(of:)) ?? events)"]
        switch stage {
        case .capture:
            if let file = settings.input {
                args = [file] + (settings.realtime ? ["--realtime"] : []) + args
                if resumeAt > 0 { args += ["--start", String(resumeAt)] }
                if let echo = settings.echo, settings.realtime { args += ["--mix", "listen:\(echoSocket)", "--mix-gain=\(echo)"] }
            } else {
                args += ["--device", settings.device]
            }
        case .vad:
            args += ["--feedback", "listen:\(vadFeedback)"]
            if settings.bargeIn { args.append("--barge-in") }
        case .stt:
            args += ["--segmentation", "voice"]
        case .llm:
            args += ["--feedback", "listen:\(llmFeedback)"]
            if let session = settings.session { args += ["--session", session] }
        case .tts:
            break
        case .play:
            // vx-tts writes far faster than real time: vx-play takes whole replies in, so an interrupt
            // behind them is read at once.
            args += ["--queue-limit", "600"]
            if let output = settings.output { args = [output] + (settings.realtime ? ["--realtime"] : []) + args } else { args += ["--device", settings.outputDevice] }
            if settings.echo != nil && settings.isFileMode && settings.realtime { args += ["--monitor", "connect:\(echoSocket)"] }
        }
        args += ["--log-level", stageLevel.rawValue]
        return args + (settings.arguments[stage] ?? [])
    }
}
