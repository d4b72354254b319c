/// Keeps the assistant's own voice, heard back through the microphone, from
/// counting as the user's: while playback is audible, a frame the engine calls
/// speech counts as speech only if its level is at least `margin` dB above the
/// echo level; otherwise it is `faint`, as the level gate makes frames that do
/// not stand out from the background. Turn detection and barge-in both see the
/// gated verdicts, so the assistant's voice neither starts a turn nor interrupts.
///
/// The echo level is a peak hold of the frame level during playback that decays
/// by `decay` dB a second, fed with every frame that does not count as speech;
/// once learnt it rises by at most `attack` a frame, so a voice rising through
/// the margin (the user's onset) does not drag it up on the way. It starts
/// afresh each time playback becomes audible. Echo and a user who
/// starts speaking look alike at first, so the estimate learns before it is
/// trusted: until the engine has heard `learning` of sound (the echo's first
/// syllables; the speaker's latency and the voice's leading silence come
/// first), or `learningLimit` of playback has passed (nothing came back, e.g.
/// headphones), every frame feeds it and none counts as speech. Barge-in is
/// therefore possible from about `learning` into the assistant's speech.
///
/// A pure value, fed the engine's verdict, the level of the analysed frame and
/// whether playback is audible, for each analysis frame in order.
public struct EchoGate: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// dB above the echo level a frame needs to count as speech during playback; 0 for no gate.
        public var margin: Double = 10
        /// How fast the echo level falls when the echo gets quieter, in dB per second.
        public var decay: Double = 3
        /// How fast the learnt echo level may rise, in dB a frame.
        public var attack: Double = 0.5
        /// Sound the estimate learns from before it is trusted.
        public var learning: UInt64 = 300_000_000
        /// Most playback the estimate learns from when little or no sound comes back.
        public var learningLimit: UInt64 = 1_000_000_000
        /// Duration of one analysis frame.
        public var frameNanoseconds: UInt64 = 10_000_000

        public init() {}

        public init(margin: Double) {
            self.margin = margin
        }
    }

    public let configuration: Configuration
    /// The echo level in dBFS; nil outside playback.
    public private(set) var echoLevel: Double?
    private var heard: UInt64 = 0
    private var elapsed: UInt64 = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// True while the estimate is still learning the echo.
    public var isLearning: Bool {
        echoLevel != nil && heard < configuration.learning && elapsed < configuration.learningLimit
    }

    /// The verdict that counts for a frame the engine judged `verdict`, of `level` dBFS.
    public mutating func gate(_ verdict: FrameVerdict, level: Double, audible: Bool) -> FrameVerdict {
        guard audible, configuration.margin > 0 else {
            echoLevel = nil
            return verdict
        }
        let decayed: Double
        if let echo = echoLevel {
            decayed = echo - configuration.decay * Double(configuration.frameNanoseconds) / 1e9
        } else {
            decayed = -.infinity
            heard = 0
            elapsed = 0
        }
        let learning = echoLevel == nil || isLearning
        elapsed += configuration.frameNanoseconds
        if verdict != .silence { heard += configuration.frameNanoseconds }
        if verdict == .speech && !learning && level >= decayed + configuration.margin {
            echoLevel = decayed
            return .speech
        }
        // Once learnt, the estimate rises at most `attack` a frame: a voice rising through the
        // margin (the user's onset) must not drag it up with it.
        echoLevel = learning ? max(decayed, level) : max(decayed, min(level, decayed + configuration.attack))
        return verdict == .silence ? .silence : .faint
    }
}
