import Testing
@testable import VAD

/// The turn rules on hand-written verdict sequences: one character per 10 ms
/// frame, "#" speech, "." silence, "~" faint.
struct TurnDetectorTests {
    static let ms: UInt64 = 1_000_000

    /// Rules with no warm-up, so sequences start at once.
    static func rules(minSpeech: UInt64 = 200, minSilence: UInt64 = 600, preRoll: UInt64 = 300,
                      maxUtterance: UInt64 = 30_000, hangover: UInt64 = 0, warmUp: UInt64 = 0) -> TurnDetector.Configuration {
        var c = TurnDetector.Configuration(minSpeech: minSpeech * ms, minSilence: minSilence * ms, preRoll: preRoll * ms,
                                           maxUtterance: maxUtterance * ms)
        c.hangover = hangover * ms
        c.warmUp = warmUp * ms
        return c
    }

    struct Decision: Equatable, CustomStringConvertible {
        var frame: Int  // index of the frame whose verdict decided it
        var event: TurnEvent
        var description: String { "frame \(frame): \(event)" }
    }

    /// Feeds `pattern` (frames from `start` ms) and returns the decisions; `endStretch` at the end if asked.
    static func run(_ pattern: String, _ configuration: TurnDetector.Configuration, start: UInt64 = 0,
                    detector: inout TurnDetector, endStretch: Bool = false) -> [Decision] {
        var decisions: [Decision] = []
        if let event = detector.beginStretch(at: start * ms) { decisions.append(Decision(frame: -1, event: event)) }
        for (i, c) in pattern.filter({ $0 != " " }).enumerated() {
            let verdict: FrameVerdict = c == "#" ? .speech : c == "~" ? .faint : .silence
            if let event = detector.process((start + UInt64(i) * 10) * ms, verdict) {
                decisions.append(Decision(frame: i, event: event))
            }
        }
        if endStretch, let event = detector.endStretch() {
            decisions.append(Decision(frame: pattern.count, event: event))
        }
        return decisions
    }

    static func run(_ pattern: String, _ configuration: TurnDetector.Configuration = rules(), start: UInt64 = 0,
                    endStretch: Bool = false) -> [Decision] {
        var detector = TurnDetector(configuration: configuration)
        return run(pattern, configuration, start: start, detector: &detector, endStretch: endStretch)
    }

    static func p(_ parts: (Character, Int)...) -> String {
        parts.map { String(repeating: $0.0, count: $0.1) }.joined()
    }

    static func started(_ onset: UInt64, _ preRoll: UInt64) -> TurnEvent { .started(onset: onset * ms, preRoll: preRoll * ms) }
    static func stopped(_ end: UInt64, _ reason: StopReason) -> TurnEvent { .stopped(end: end * ms, reason: reason) }

    @Test func onsetIsTheFirstSpeechFrameAndEndTheLastDecidedLater() {
        let decisions = Self.run(Self.p((".", 50), ("#", 100), (".", 80)))
        #expect(decisions == [
            Decision(frame: 69, event: Self.started(500, 200)),      // 200 ms of speech seen: frames 50...69
            Decision(frame: 209, event: Self.stopped(1500, .silence)),  // 600 ms after the end of frame 149
        ])
    }

    @Test func speechNeedsMinSpeechToStart() {
        #expect(Self.run(Self.p((".", 30), ("#", 19), (".", 100))).isEmpty)
        #expect(Self.run(Self.p((".", 30), ("#", 20), (".", 100))).map(\.event) == [
            Self.started(300, 0), Self.stopped(500, .silence),
        ])
        // Longer windows need longer speech.
        #expect(Self.run(Self.p((".", 30), ("#", 24), (".", 100)), Self.rules(minSpeech: 250)).isEmpty)
    }

    @Test func shortBlipsAndNoiseFlickerStartNothing() {
        // Runs of 7 voiced frames, the most WebRTC gives on steady noise, every 150 ms.
        let flicker = String(repeating: Self.p(("#", 7), (".", 8)), count: 40)
        #expect(Self.run(flicker).isEmpty)
        #expect(Self.run(String(repeating: "#.", count: 200)).isEmpty)
        #expect(Self.run(Self.p((".", 10), ("#", 15), (".", 3), ("#", 1), (".", 100))).isEmpty)
    }

    @Test func flickerInsideSpeechNeitherDelaysTheOnsetMuchNorSplitsTheUtterance() {
        // Every sixth frame missed (83% voiced), and a 400 ms pause between words.
        let word = String(repeating: Self.p(("#", 5), (".", 1)), count: 10)
        let decisions = Self.run(Self.p((".", 20)) + word + Self.p((".", 40)) + word + Self.p((".", 80)))
        #expect(decisions.map(\.event) == [Self.started(200, 0), Self.stopped(1790, .silence)])
        #expect(decisions.first?.frame == 39)
    }

    @Test func stopToleratesFlickerInTheSilence() {
        // Lone voiced frames in the silence after speech do not hold the utterance open.
        let silence = String(repeating: Self.p((".", 9), ("#", 1)), count: 10)
        let decisions = Self.run(Self.p(("#", 50)) + silence)
        #expect(decisions.map(\.event) == [Self.started(0, 0), Self.stopped(500, .silence)])
        #expect(decisions.last?.frame == 109)
    }

    @Test func denseFlickerInTheSilenceKeepsTheUtteranceOpen() {
        // Every other frame voiced is more than the 20% of flicker allowed.
        let decisions = Self.run(Self.p(("#", 50)) + String(repeating: "#.", count: 100), endStretch: true)
        #expect(decisions.map(\.event) == [Self.started(0, 0), Self.stopped(510, .audioStop)])
    }

    @Test func endLeavesOutTheEngineHangoverWhenTheEngineLetsGo() {
        let hangover = Self.rules(hangover: 90)
        #expect(Self.run(Self.p((".", 10), ("#", 60), (".", 80)), hangover).map(\.event) == [
            Self.started(100, 0), Self.stopped(610, .silence),
        ])
        // Speech fading into faint frames ends where the engine lets go, less its hangover...
        #expect(Self.run(Self.p((".", 10), ("#", 60), ("~", 20), (".", 70)), hangover).map(\.event) == [
            Self.started(100, 0), Self.stopped(810, .silence),
        ])
        // ...unless the faint frames go on too long to be its tail (300 ms): then at its last speech.
        #expect(Self.run(Self.p((".", 10), ("#", 60), ("~", 40), (".", 70)), hangover).map(\.event) == [
            Self.started(100, 0), Self.stopped(700, .silence),
        ])
        // Nor has speech still going when the stretch ends.
        #expect(Self.run(Self.p((".", 10), ("#", 60)), hangover, endStretch: true).map(\.event) == [
            Self.started(100, 0), Self.stopped(700, .audioStop),
        ])
    }

    @Test func faintFramesAloneNeverStartAnUtterance() {
        #expect(Self.run(Self.p(("~", 300))).isEmpty)
        // Hum the WebRTC detector calls speech, with the odd louder frame.
        #expect(Self.run(String(repeating: Self.p(("~", 6), ("#", 4)), count: 30)).isEmpty)
    }

    @Test func onsetReachesBackOverAFaintStartAfterSilence() {
        // A soft start: 80 ms faint, then loud speech.
        #expect(Self.run(Self.p((".", 30), ("~", 8), ("#", 40), (".", 70))).map(\.event) == [
            Self.started(300, 0), Self.stopped(780, .silence),
        ])
        // Faint all along (a steady hum) is background: the onset is the first loud frame.
        #expect(Self.run(Self.p(("~", 60), ("#", 40), ("~", 70))).map(\.event) == [
            Self.started(600, 300), Self.stopped(1000, .silence),
        ])
        // Faint frames inside the window count towards the ratio, not as speech.
        #expect(Self.run(Self.p((".", 30), ("~", 6), ("#", 4), ("~", 6), ("#", 4), (".", 100))).isEmpty)
        #expect(Self.run(Self.p((".", 30), ("~", 5), ("#", 10), ("~", 3), ("#", 10), (".", 70))).map(\.event) == [
            Self.started(300, 0), Self.stopped(580, .silence),
        ])
    }

    @Test func preRollReachesBackButNotBeforeTheStretch() {
        #expect(Self.run(Self.p((".", 10), ("#", 30), (".", 70)), start: 1_000).first?.event == Self.started(1_100, 1_000))
        #expect(Self.run(Self.p((".", 100), ("#", 30), (".", 70)), start: 1_000).first?.event == Self.started(2_000, 1_700))
        #expect(Self.run(Self.p((".", 100), ("#", 30), (".", 70)), Self.rules(preRoll: 0)).first?.event
                == Self.started(1_000, 1_000))
    }

    @Test func maxUtteranceCutsAndANewOnsetNeedsMinSpeechAgain() {
        let decisions = Self.run(Self.p((".", 10), ("#", 230), (".", 80)), Self.rules(maxUtterance: 1_000))
        #expect(decisions == [
            Decision(frame: 29, event: Self.started(100, 0)),
            Decision(frame: 109, event: Self.stopped(1_100, .maxUtterance)),
            Decision(frame: 129, event: Self.started(1_100, 800)),
            Decision(frame: 209, event: Self.stopped(2_100, .maxUtterance)),
            Decision(frame: 229, event: Self.started(2_100, 1_800)),
            Decision(frame: 299, event: Self.stopped(2_400, .silence)),
        ])
    }

    @Test func stretchEndClosesAnOpenUtteranceAtItsLastSpeech() {
        #expect(Self.run(Self.p((".", 10), ("#", 40), (".", 20)), endStretch: true).map(\.event) == [
            Self.started(100, 0), Self.stopped(500, .audioStop),
        ])
        // Nothing open, nothing to close: never a stop without its start.
        #expect(Self.run(Self.p((".", 10), ("#", 15), (".", 20)), endStretch: true).isEmpty)
        #expect(Self.run(Self.p((".", 10), ("#", 40), (".", 70)), endStretch: true).map(\.event) == [
            Self.started(100, 0), Self.stopped(500, .silence),
        ])
    }

    @Test func aNewStretchStartsEmptyAndClosesTheOldOne() {
        let rules = Self.rules()
        var detector = TurnDetector(configuration: rules)
        let first = Self.run(Self.p((".", 10), ("#", 40)), rules, detector: &detector)
        #expect(first.map(\.event) == [Self.started(100, 0)])
        // The next stretch (its own audio-start) closes the utterance; half a window
        // of speech before it and half after do not add up to an onset.
        let second = Self.run(Self.p(("#", 15)), rules, start: 5_000, detector: &detector)
        #expect(second.map(\.event) == [Self.stopped(500, .audioStop)])
        #expect(detector.isSpeaking == false)
    }

    @Test func theFirstFramesEverSeenCannotStartAnUtterance() {
        // A fresh WebRTC detector calls the first ~90-180 ms of steady noise speech.
        let warm = Self.rules(warmUp: 200)
        #expect(Self.run(Self.p(("#", 30), (".", 200)), warm).isEmpty)
        #expect(Self.run(Self.p(("#", 30), (".", 200)), Self.rules()).map(\.event) == [Self.started(0, 0), Self.stopped(300, .silence)])
        // Speech from the very start is heard once the warm-up is over.
        #expect(Self.run(Self.p(("#", 60), (".", 70)), warm).map(\.event) == [Self.started(200, 0), Self.stopped(600, .silence)])
        // Only once: the detector is kept across stretches.
        var detector = TurnDetector(configuration: warm)
        _ = Self.run(Self.p((".", 30)), warm, detector: &detector, endStretch: true)
        #expect(Self.run(Self.p(("#", 20), (".", 70)), warm, start: 1_000, detector: &detector).map(\.event)
                == [Self.started(1_000, 1_000), Self.stopped(1_200, .silence)])
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func eventsAlternateAndTimesAreOrderedOnAnySequence(seed: UInt64) {
        var random = SplitMix(seed: seed)
        var pattern = ""
        while pattern.count < 6_000 {
            // Runs of speech, faint and silence of random lengths.
            let c: Character = ["#", ".", "~"][Int(random.next() % 3)]
            pattern += String(repeating: c, count: Int(random.next() % 80) + 1)
        }
        let decisions = Self.run(pattern, Self.rules(maxUtterance: 3_000, hangover: 90, warmUp: 200), endStretch: true)
        #expect(decisions.count >= 4 && decisions.count % 2 == 0)
        var lastEnd: UInt64 = 0
        for (i, d) in decisions.enumerated() {
            let decidedAt = UInt64(d.frame + 1) * 10 * Self.ms
            switch d.event {
            case .started(let onset, let preRoll):
                #expect(i % 2 == 0, "a start follows a start: \(d)")
                #expect(onset >= lastEnd && preRoll <= onset, "\(d)")
                // The onset lies in the decision window, or at most `lookBack` before it.
                #expect(onset + 10 * Self.ms <= decidedAt && decidedAt - onset <= 500 * Self.ms, "\(d)")
                lastEnd = onset
            case .stopped(let end, _):
                #expect(i % 2 == 1, "a stop without its start: \(d)")
                #expect(end > lastEnd && end <= decidedAt, "\(d)")
                lastEnd = end
            }
        }
    }
}

/// A small seeded generator, so random sequences are the same every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
