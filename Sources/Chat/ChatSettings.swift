import Logging

/// Everything `vx-chat` is told: one plain value, filled from defaults, then a config file, then
/// `VX_*` environment variables, then flags (`ConfigKey` lists every key and where it comes from).
public struct ChatSettings: Sendable, Equatable {
    /// How stderr shows the chat.
    public enum View: String, Sendable, CaseIterable {
        /// The live screen when stderr is a terminal, log lines otherwise.
        case auto
        /// Always the live screen.
        case live
        /// Always log lines.
        case plain
    }

    /// File mode: the recorded question (any format libsndfile reads), played in at real time.
    public var input: String?
    /// File mode: where the spoken answers are written (WAV), at real time as a speaker would play them.
    public var output: String?
    /// Live mode: the ALSA capture device.
    public var device = "default"
    /// Live mode: the ALSA playback device.
    public var outputDevice = "default"
    /// Where the sockets live (a private directory, mode 0700); made up when nil.
    public var runtimeDir: String?
    /// Every stage's log lines and the turn reports, appended; nil for none.
    public var logFile: String?
    /// Least severe level shown on stderr (the log file gets info and up).
    public var logLevel: Logger.Level = .notice
    /// Where the six tools are; nil for the directory vx-chat itself is in.
    public var binDir: String?
    /// vx-llm's conversation file (`--session`); nil for vx-llm's default.
    public var session: String?
    /// Restarts of one stage allowed within `restartWindow` before the whole chat stops.
    public var maxRestarts = 5
    /// Seconds over which restarts are counted.
    public var restartWindow = 60.0
    /// Seconds the pipeline has to answer its first ping (the local LLM server loads in this time).
    public var readyTimeout = 300.0
    /// File mode: seconds the chat waits, after the input ended, for the last reply to finish playing.
    public var drainTimeout = 120.0
    /// File mode: capture and playback keep real time, as devices would; false runs the conversation
    /// as fast as the stages go (for benchmarks).
    public var realtime = true
    /// File mode: a simulated speaker-to-mic echo: the answers, as they play, are added to the input
    /// at this gain (dB). Nil for none.
    public var echo: Double?
    /// Barge-in: the user's voice interrupts the assistant.
    public var bargeIn = true
    public var view = View.auto
    /// One JSON line per turn (its latency figures), appended; nil for none.
    public var turnsFile: String?
    /// Extra arguments for each stage, after the ones vx-chat passes.
    public var arguments: [StageName: [String]] = [:]
    /// A command standing in for a stage's tool (a fixture script): it gets the same arguments.
    public var commands: [StageName: String] = [:]

    public init() {}

    public var isFileMode: Bool { input != nil }
}
