/// Why an utterance ended.
public enum StopReason: String, Sendable, Equatable {
    /// `min-silence` of silence followed the speech.
    case silence
    /// The utterance reached `max-utterance` and was cut; detection goes on.
    case maxUtterance = "max-utterance"
    /// The audio stretch ended (or the input did) while speech was open.
    case audioStop = "audio-stop"
}

/// What the turn detector decided on one analysis frame.
public enum TurnEvent: Sendable, Equatable {
    /// Speech began at `onset` (stream time of its first frame); a recogniser
    /// should take audio from `preRoll`.
    case started(onset: UInt64, preRoll: UInt64)
    /// Speech ended at `end` (just after its last frame).
    case stopped(end: UInt64, reason: StopReason)
}

/// Turns per-frame verdicts into utterances: a pure value, fed the stream time
/// and the engine's verdict for each analysis frame, in order.
///
/// - **Onset.** Outside speech, the last `minSpeech` of frames form a window.
///   An utterance starts when the window begins and ends with frames that are
///   not silence, at least `speechRatio` of it is speech or faint, and at least
///   half of it is clearly speech. The ratio lets an engine's flicker (a few
///   frames missed inside speech) through; the half keeps faint sounds (hum,
///   distant talk) from starting a turn on their own. The onset
///   is the window's first speech frame, moved back over faint frames directly
///   before it when silence comes before those within `lookBack` (a soft start of
///   a word; faint all along is background).
/// - **End.** In speech, a speech frame that follows another is speech (a lone
///   one in silence is flicker and is ignored). The utterance ends once
///   `minSilence` has passed since its end and at most `silenceRatio` of the
///   last `minSilence` of frames were speech. The end reported is where the
///   speech ended, not the decision time: the end of the last speech frame and
///   of the faint frames directly after it (its fading tail, up to `lookBack`),
///   less the engine's `hangover`, when the engine then called silence (it let
///   go there, so its last `hangover` of verdicts were its own hold-over).
///   Speech still going when the cap or the stretch's end cuts it, or followed
///   by faint frames for longer than `lookBack` (background), ends at its last
///   speech frame.
/// - **Cap.** An utterance reaching `maxUtterance` is stopped and the windows
///   start empty, so a new onset needs `minSpeech` of speech again.
/// - **Warm-up.** The first `warmUp` of frames the detector ever sees count as
///   silence: a fresh WebRTC detector calls the start of steady noise speech.
///   One detector serves all utterances and stretches, so this happens once.
public struct TurnDetector: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Duration of one analysis frame.
        public var frameNanoseconds: UInt64 = 10_000_000
        /// Length of the onset window: the least span of speech that starts an utterance.
        public var minSpeech: UInt64 = 200_000_000
        /// Least share of speech (or faint) frames in the onset window.
        public var speechRatio: Double = 0.8
        /// Silence after the last speech that ends an utterance.
        public var minSilence: UInt64 = 600_000_000
        /// Most share of speech frames (flicker) in the last `minSilence` for it to count as silence.
        public var silenceRatio: Double = 0.2
        /// Audio before the onset a recogniser should take.
        public var preRoll: UInt64 = 400_000_000
        /// Longest utterance before it is cut.
        public var maxUtterance: UInt64 = 30_000_000_000
        /// Frames at the very start that count as silence.
        public var warmUp: UInt64 = 200_000_000
        /// How far an onset may reach back, and an end forward, over faint frames.
        public var lookBack: UInt64 = 300_000_000
        /// The engine's hangover: how long it keeps calling speech after speech ends.
        public var hangover: UInt64 = 0

        public init() {}

        public init(minSpeech: UInt64, minSilence: UInt64, preRoll: UInt64, maxUtterance: UInt64) {
            self.minSpeech = minSpeech
            self.minSilence = minSilence
            self.preRoll = preRoll
            self.maxUtterance = maxUtterance
        }

        /// Frames in a span, rounded up.
        func frames(_ nanoseconds: UInt64) -> Int {
            Int((nanoseconds + frameNanoseconds - 1) / frameNanoseconds)
        }
    }

    private struct Utterance {
        var onset: UInt64
        /// End of the last speech frame.
        var lastSpeechEnd: UInt64
        /// End of the frames that are not silence since the last speech: its fading tail.
        var tailEnd: UInt64
        var tail = Tail.going

        enum Tail {
            /// Speech, or faint frames after it that may be its tail.
            case going
            /// The engine called silence after the speech and its tail: it let go there.
            case letGo
            /// Faint frames went on longer than `lookBack`: background, not a tail.
            case faded
        }
    }

    public let configuration: Configuration
    private var onsetWindow: DecisionWindow
    /// Frames that fell out of the onset window, for an onset to reach back over.
    private var lead: DecisionWindow
    private var silenceWindow: DecisionWindow
    private let activeNeeded: Int
    private let speechNeeded: Int
    private let flickerAllowed: Int
    private let warmUpFrames: Int
    private var framesSeen = 0
    private var stretchStart: UInt64 = 0
    private var previous = FrameVerdict.silence
    private var utterance: Utterance?

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        let onsetFrames = max(1, configuration.frames(configuration.minSpeech))
        let silenceFrames = max(1, configuration.frames(configuration.minSilence))
        onsetWindow = DecisionWindow(capacity: onsetFrames)
        lead = DecisionWindow(capacity: max(1, configuration.frames(configuration.lookBack)))
        silenceWindow = DecisionWindow(capacity: silenceFrames)
        activeNeeded = max(1, Int((configuration.speechRatio * Double(onsetFrames)).rounded(.up)))
        speechNeeded = max(1, (onsetFrames + 1) / 2)
        flickerAllowed = Int((configuration.silenceRatio * Double(silenceFrames)).rounded(.down))
        warmUpFrames = configuration.frames(configuration.warmUp)
    }

    /// True while an utterance is open (between `started` and `stopped`).
    public var isSpeaking: Bool { utterance != nil }

    /// A stretch of audio begins at `timestamp`: pre-roll never reaches before it.
    /// An utterance still open is stopped (`audio-stop`).
    public mutating func beginStretch(at timestamp: UInt64) -> TurnEvent? {
        let closed = endStretch()
        stretchStart = timestamp
        return closed
    }

    /// The stretch (or the input) ended: an open utterance stops at its last speech.
    public mutating func endStretch() -> TurnEvent? {
        clearWindows()
        previous = .silence
        guard let open = utterance else { return nil }
        utterance = nil
        return .stopped(end: end(of: open), reason: .audioStop)
    }

    /// The engine's verdict on the analysis frame that starts at `timestamp`.
    public mutating func process(_ timestamp: UInt64, _ engineVerdict: FrameVerdict) -> TurnEvent? {
        let verdict = framesSeen < warmUpFrames ? .silence : engineVerdict
        framesSeen += 1
        defer { previous = verdict }
        let frameEnd = timestamp.addingSaturating(configuration.frameNanoseconds)

        guard var open = utterance else {
            if let evicted = onsetWindow.append(timestamp, verdict) { lead.append(evicted.timestamp, evicted.verdict) }
            guard onsetWindow.isFull, verdict != .silence, onsetWindow.first.verdict != .silence,
                  onsetWindow.activeCount >= activeNeeded, onsetWindow.speechCount >= speechNeeded
            else { return nil }
            let onset = onsetTime()
            utterance = Utterance(onset: onset, lastSpeechEnd: frameEnd, tailEnd: frameEnd)
            clearWindows()
            let preRoll = max(stretchStart, onset.subtractingSaturating(configuration.preRoll))
            return .started(onset: onset, preRoll: preRoll)
        }

        silenceWindow.append(timestamp, verdict)
        if verdict == .speech && previous == .speech {
            open.lastSpeechEnd = frameEnd
            open.tailEnd = frameEnd
            open.tail = .going
        } else if open.tail == .going {
            if verdict == .silence {
                open.tail = .letGo
            } else if frameEnd.subtractingSaturating(open.lastSpeechEnd) > configuration.lookBack {
                open.tail = .faded
            } else {
                open.tailEnd = frameEnd
            }
        }
        utterance = open
        let end = end(of: open)
        if frameEnd.subtractingSaturating(end) >= configuration.minSilence && silenceWindow.speechCount <= flickerAllowed {
            utterance = nil
            clearWindows()
            return .stopped(end: end, reason: .silence)
        }
        if frameEnd.subtractingSaturating(open.onset) >= configuration.maxUtterance {
            utterance = nil
            clearWindows()
            return .stopped(end: end, reason: .maxUtterance)
        }
        return nil
    }

    /// The first speech frame of the onset window, or the start of the faint
    /// frames right before it if silence comes before them within `lookBack`.
    private func onsetTime() -> UInt64 {
        let history = lead.entries + onsetWindow.entries
        let first = history[lead.count...].firstIndex { $0.verdict == .speech }!
        var start = first
        while start > 0, history[start - 1].verdict == .faint,
              history[first].timestamp.subtractingSaturating(history[start - 1].timestamp) <= configuration.lookBack {
            start -= 1
        }
        if start > 0 && start < first && history[start - 1].verdict == .silence { return history[start].timestamp }
        return history[first].timestamp
    }

    /// Where an utterance's speech really ended. Once the engine has let go:
    /// the end of the speech's faint tail, less the engine's hangover (never
    /// before the onset's frame). Until then, or when faint frames went on too
    /// long to be a tail: the end of the last speech frame.
    private func end(of open: Utterance) -> UInt64 {
        guard open.tail == .letGo else { return open.lastSpeechEnd }
        let earliest = open.onset.addingSaturating(configuration.frameNanoseconds)
        return max(earliest, open.tailEnd.subtractingSaturating(configuration.hangover))
    }

    private mutating func clearWindows() {
        onsetWindow.removeAll()
        lead.removeAll()
        silenceWindow.removeAll()
    }
}

/// The last `capacity` frames' start times and verdicts, with a running count of speech frames.
struct DecisionWindow: Sendable {
    typealias Entry = (timestamp: UInt64, verdict: FrameVerdict)
    private var storage: [Entry]
    private var head = 0  // index of the oldest entry
    private(set) var count = 0
    private(set) var speechCount = 0
    /// Entries that are not silence (speech or faint).
    private(set) var activeCount = 0

    init(capacity: Int) {
        storage = [Entry](repeating: (0, .silence), count: capacity)
    }

    var capacity: Int { storage.count }
    var isFull: Bool { count == capacity }
    var first: Entry { storage[head] }

    /// Adds a frame; returns the oldest one if it had to make room.
    @discardableResult
    mutating func append(_ timestamp: UInt64, _ verdict: FrameVerdict) -> Entry? {
        var evicted: Entry?
        if count == capacity {
            evicted = storage[head]
            if evicted!.verdict == .speech { speechCount -= 1 }
            if evicted!.verdict != .silence { activeCount -= 1 }
            storage[head] = (timestamp, verdict)
            head = (head + 1) % capacity
        } else {
            storage[(head + count) % capacity] = (timestamp, verdict)
            count += 1
        }
        if verdict == .speech { speechCount += 1 }
        if verdict != .silence { activeCount += 1 }
        return evicted
    }

    /// The entries, oldest first.
    var entries: [Entry] { (0..<count).map { storage[(head + $0) % capacity] } }

    mutating func removeAll() {
        head = 0
        count = 0
        speechCount = 0
        activeCount = 0
    }
}

extension UInt64 {
    /// Stream times come off the wire: arithmetic on them must not trap.
    func addingSaturating(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    func subtractingSaturating(_ other: UInt64) -> UInt64 { self > other ? self - other : 0 }
}
