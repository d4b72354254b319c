import VXShared

/// Everything `vx-play` was asked to do, as plain values. The executable builds
/// it from flags; `Player` runs it.
public struct PlayerConfiguration: Sendable, Equatable {
    /// Where the audio goes.
    public enum Output: Sendable, Equatable {
        /// An audio file; libsndfile picks the container from the extension.
        case file(String)
        /// Raw interleaved little-endian PCM on stdout.
        case raw
        /// An ALSA playback device by name ("default", "plughw:0", "null", ...).
        case device(String)
        /// Every frame as a JSON text line on stdout, nothing played.
        case text(includePCM: Bool)

        /// True when the audio itself goes to stdout, so events cannot.
        public var usesStdout: Bool {
            switch self {
            case .raw, .text: true
            case .file, .device: false
            }
        }
    }

    public var output: Output
    public var input: Endpoint
    public var events: EventDestination
    /// Output format fields fixed by flags; the rest come from the first audio-start.
    public var format: FormatOverride
    /// Most audio time queued between the reader and the player before the reader waits.
    public var queueLimit: Duration
    /// Pace file and raw outputs at real time, as a device would.
    public var realtime: Bool
    public var maxFrame: Int
    /// The ALSA buffer asked for: short, so an interrupt silences the device quickly.
    public var deviceLatency: Duration
    /// Where a copy of the audio goes as it is played (`--monitor`), if anywhere.
    public var monitor: Endpoint?

    public init(output: Output, input: Endpoint = .stdio, events: EventDestination, format: FormatOverride = FormatOverride(),
                queueLimit: Duration = .seconds(10), realtime: Bool = false, maxFrame: Int = Frame.defaultMaxPayload,
                deviceLatency: Duration = .milliseconds(60)) {
        self.output = output
        self.input = input
        self.events = events
        self.format = format
        self.queueLimit = queueLimit
        self.realtime = realtime
        self.maxFrame = maxFrame
        self.deviceLatency = deviceLatency
    }
}

/// Output format fields given on the command line (`--rate`, `--width`, `--channels`).
public struct FormatOverride: Sendable, Equatable {
    public var rate: Int?
    public var width: Int?
    public var channels: Int?

    public init(rate: Int? = nil, width: Int? = nil, channels: Int? = nil) {
        self.rate = rate
        self.width = width
        self.channels = channels
    }

    public var isEmpty: Bool { rate == nil && width == nil && channels == nil }

    /// `format` with the given fields replaced.
    public func applied(to format: AudioFormat) -> AudioFormat {
        AudioFormat(rate: rate ?? format.rate, width: width ?? format.width, channels: channels ?? format.channels)
    }

    /// Why a given field cannot be used, naming its flag; nil when all can.
    public var problem: String? {
        if let rate, !(1...768_000).contains(rate) { return "--rate \(rate) is not from 1 to 768000 Hz" }
        if let width, !AudioFormat.supportedWidths.contains(width) { return "--width \(width) is not 2 or 4 bytes" }
        if let channels, !(1...32).contains(channels) { return "--channels \(channels) is not from 1 to 32" }
        return nil
    }
}

/// Where the events that `vx-play` does not consume, and its `played` reports, go.
public enum EventDestination: Sendable, Equatable {
    /// Binary frames to an endpoint (stdout, or a socket).
    case frames(Endpoint)
    /// JSON text lines on stdout, for a person at a terminal.
    case text
    /// Log records on stderr at info level (when stdout carries the audio).
    case log

    /// The destination for `--to` (nil when not given): stdout as frames, or as
    /// text when stdout is a terminal, or the log when the audio is on stdout.
    public static func resolve(to: Endpoint?, output: PlayerConfiguration.Output, stdoutIsTerminal: Bool) throws(ToolError)
        -> EventDestination
    {
        if case .text = output {
            guard to == nil else { throw .usage("--to cannot be used with --text: the text on stdout already shows every event") }
            return .text
        }
        switch to {
        case .stdio?:
            guard !output.usesStdout else {
                throw .usage("--to - conflicts with OUTPUT -: stdout carries the raw audio (send events to a socket instead)")
            }
            return stdoutIsTerminal ? .text : .frames(.stdio)
        case let endpoint?:
            return .frames(endpoint)
        case nil:
            if output.usesStdout { return .log }
            return stdoutIsTerminal ? .text : .frames(.stdio)
        }
    }
}
