import Testing
@testable import VAD

private let ms: UInt64 = 1_000_000

/// Barge-in decisions on hand-written gated verdicts, one character per 10 ms
/// frame: "#" speech, "~" faint, "." silence.
struct BargeInDetectorTests {
    /// Feeds `pattern` from `start` ms; returns (index of the deciding frame, onset in ms) for each interrupt.
    static func run(_ pattern: String, _ detector: inout BargeInDetector, start: UInt64 = 0,
                    audible: Bool = true) -> [(frame: Int, onset: UInt64)] {
        var decisions: [(Int, UInt64)] = []
        for (i, c) in pattern.filter({ $0 != " " }).enumerated() {
            let verdict: FrameVerdict = c == "#" ? .speech : c == "~" ? .faint : .silence
            if let onset = detector.process((start + UInt64(i) * 10) * ms, verdict, audible: audible) {
                decisions.append((i, onset / ms))
            }
        }
        return decisions
    }

    @Test func speechOverPlaybackInterruptsOnceItHasLastedTheWindow() {
        var detector = BargeInDetector(configuration: .init(speech: 100 * ms))
        let decisions = Self.run("~~~~~ .... ##########", &detector)
        #expect(decisions.map { $0.frame } == [18] && decisions.map { $0.onset } == [90])
    }

    @Test func flickerIsToleratedAsInTheOnsetWindow() {
        var detector = BargeInDetector(configuration: .init(speech: 100 * ms))
        // Echo-gated frames (faint) inside the user's speech; it must begin and end with speech.
        #expect(Self.run("~~~ #~##~###~#", &detector).map { $0.onset } == [30])
        var sparse = BargeInDetector(configuration: .init(speech: 100 * ms))
        #expect(Self.run("~~~ #~~#~~#~~#~~#", &sparse).isEmpty)  // under half clearly speech
    }

    @Test func nothingWhilePlaybackIsInaudible() {
        var detector = BargeInDetector(configuration: .init(speech: 100 * ms))
        #expect(Self.run("....##########....", &detector, audible: false).isEmpty)
        // Then the utterance's start interrupts, with its onset.
        #expect(detector.utteranceStarted(onset: 40 * ms) == 40 * ms)
    }

    @Test func atMostOncePerUtterance() {
        var detector = BargeInDetector(configuration: .init(speech: 100 * ms))
        #expect(Self.run("##########", &detector).count == 1)
        #expect(detector.utteranceStarted(onset: 0) == nil)  // it interrupted already
        detector.utteranceStopped()
        #expect(Self.run("##########", &detector, start: 2_000).map { $0.onset } == [2_000])
        detector.utteranceStopped()
        // Without playback the start of each utterance interrupts.
        #expect(detector.utteranceStarted(onset: 5_000 * ms) == 5_000 * ms)
        detector.utteranceStopped()
        #expect(detector.utteranceStarted(onset: 9_000 * ms) == 9_000 * ms)
    }

    @Test func speechThatNeverBecameAnUtteranceRearmsAfterSilence() {
        var detector = BargeInDetector(configuration: .init(speech: 100 * ms, rearm: 300 * ms))
        // A cough interrupts; words 200 ms later belong to it; words after 300 ms of quiet interrupt again.
        let pattern = "############ ~~~~~~~~~~~~~~~~~~~~ ############ " + String(repeating: ".", count: 30) + " ##########"
        #expect(Self.run(pattern, &detector).map { $0.onset } == [0, 740])
    }
}
