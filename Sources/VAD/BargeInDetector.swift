/// Decides when the user's speech should interrupt the assistant: at most once
/// per utterance.
///
/// - **Over playback.** While playback is audible and no utterance is open, the
///   last `speech` of (echo-gated) verdicts form a window, judged much as
///   `TurnDetector` judges its onset window: once it begins and ends with
///   speech, at least `speechRatio` of it is speech or faint and at least half
///   of it clearly speech, the user has spoken over the assistant for `speech`:
///   interrupt now, with the window's first frame as the onset, without waiting
///   for the utterance's own start (`minSpeech`, longer).
/// - **Otherwise** the utterance's start interrupts (the user speaking while the
///   assistant thinks cancels the stale reply), unless this speech has already.
///
/// An interrupt belongs to the utterance it started, or, when that speech never
/// became one, to speech up to `rearm` of silence after it (a short sound, then
/// the words, interrupt once).
///
/// A pure value, fed the same gated verdicts as `TurnDetector`, outside utterances.
public struct BargeInDetector: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Speech over playback that interrupts.
        public var speech: UInt64 = 100_000_000
        /// Least share of speech (or faint) frames in that window.
        public var speechRatio: Double = 0.8
        /// Silence after speech that interrupted without becoming an utterance before the next may interrupt.
        public var rearm: UInt64 = 600_000_000
        /// Duration of one analysis frame.
        public var frameNanoseconds: UInt64 = 10_000_000

        public init() {}

        public init(speech: UInt64, speechRatio: Double = 0.8, rearm: UInt64 = 600_000_000) {
            self.speech = speech
            self.speechRatio = speechRatio
            self.rearm = rearm
        }
    }

    public let configuration: Configuration
    private var window: DecisionWindow
    private let activeNeeded: Int
    private let speechNeeded: Int
    /// An interrupt went out for the speech going on.
    private var interrupted = false
    private var lastSpeechEnd: UInt64 = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        let frames = max(1, Int((configuration.speech + configuration.frameNanoseconds - 1) / configuration.frameNanoseconds))
        window = DecisionWindow(capacity: frames)
        activeNeeded = max(1, Int((configuration.speechRatio * Double(frames)).rounded(.up)))
        speechNeeded = max(1, (frames + 1) / 2)
    }

    /// A frame outside an utterance; returns the onset to interrupt with when
    /// the user has now spoken over audible playback for `speech`.
    public mutating func process(_ timestamp: UInt64, _ verdict: FrameVerdict, audible: Bool) -> UInt64? {
        let frameEnd = timestamp.addingSaturating(configuration.frameNanoseconds)
        if verdict == .speech { lastSpeechEnd = frameEnd }
        if interrupted && frameEnd.subtractingSaturating(lastSpeechEnd) >= configuration.rearm { interrupted = false }
        guard audible else {
            window.removeAll()
            return nil
        }
        window.append(timestamp, verdict)
        guard !interrupted, window.isFull, verdict == .speech, window.first.verdict == .speech,
              window.activeCount >= activeNeeded, window.speechCount >= speechNeeded
        else { return nil }
        interrupted = true
        let onset = window.first.timestamp
        window.removeAll()
        return onset
    }

    /// An utterance started at `onset`: returns the onset to interrupt with,
    /// unless its speech has interrupted already.
    public mutating func utteranceStarted(onset: UInt64) -> UInt64? {
        window.removeAll()
        defer { interrupted = true }
        return interrupted ? nil : onset
    }

    /// The utterance ended: the next speech may interrupt again.
    public mutating func utteranceStopped() {
        window.removeAll()
        interrupted = false
    }

    /// The stretch ended: its frames are gone.
    public mutating func endStretch() {
        window.removeAll()
    }
}
