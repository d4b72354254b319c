import Testing
@testable import VAD

/// The echo gate on made-up frame levels: one (verdict, dBFS) per 10 ms frame.
struct EchoGateTests {
    /// Feeds `frames` while playback is `audible`; returns the gated verdicts.
    static func run(_ gate: inout EchoGate, _ frames: [(FrameVerdict, Double)], audible: Bool = true) -> [FrameVerdict] {
        frames.map { gate.gate($0.0, level: $0.1, audible: audible) }
    }

    static func repeated(_ verdict: FrameVerdict, _ level: Double, _ count: Int) -> [(FrameVerdict, Double)] {
        Array(repeating: (verdict, level), count: count)
    }

    /// Echo of the assistant's voice: syllables between -40 and -24 dBFS.
    static let echo: [(FrameVerdict, Double)] = (0..<100).map { (.speech, -24 - Double(($0 * 7) % 17)) }

    @Test func outsidePlaybackVerdictsPassUnchanged() {
        var gate = EchoGate()
        let frames: [(FrameVerdict, Double)] = [(.speech, -20), (.faint, -50), (.silence, -90)]
        #expect(Self.run(&gate, frames, audible: false) == [.speech, .faint, .silence])
        #expect(gate.echoLevel == nil)
    }

    @Test func nothingCountsAsSpeechWhileTheEchoIsLearnt() {
        var gate = EchoGate()
        // The speaker's latency and the voice's leading silence first: they teach nothing.
        #expect(Self.run(&gate, Self.repeated(.silence, -90, 20)) == Array(repeating: .silence, count: 20))
        #expect(gate.isLearning)
        // Then 300 ms of the echo, however loud, is learnt, not heard as the user.
        #expect(Self.run(&gate, Self.repeated(.speech, -20, 30)) == Array(repeating: .faint, count: 30))
        #expect(!gate.isLearning)
        #expect(gate.echoLevel.map { abs($0 - -20) < 0.1 } == true)
    }

    @Test func echoIsFaintAndAVoiceClearlyLouderIsSpeech() {
        var gate = EchoGate()
        let echo = Self.run(&gate, Self.echo)
        #expect(!echo.contains(.speech))
        #expect(Self.run(&gate, [(.speech, -15)]) == [.faint])  // 9 dB over the echo
        #expect(Self.run(&gate, Self.repeated(.speech, -12, 5)) == Array(repeating: .speech, count: 5))  // 12 dB over it
        #expect(Self.run(&gate, [(.silence, -12)]) == [.silence])  // the engine's silence stays silence
    }

    @Test func aVoiceRisingThroughTheMarginDoesNotDragTheEchoLevelUp() {
        var gate = EchoGate()
        _ = Self.run(&gate, Self.echo)
        let learnt = gate.echoLevel!
        // An onset ramps up over a few frames; each is just under the margin of the last.
        let ramp: [(FrameVerdict, Double)] = [(.speech, -22), (.speech, -18), (.speech, -15), (.speech, -12), (.speech, -10)]
        #expect(Self.run(&gate, ramp).suffix(2) == [.speech, .speech])
        #expect(gate.echoLevel! < learnt + 2)
    }

    @Test func theEchoLevelDecaysAFewDecibelsASecond() {
        var gate = EchoGate()
        _ = Self.run(&gate, Self.echo)
        let learnt = gate.echoLevel!
        _ = Self.run(&gate, Self.repeated(.silence, -90, 100))
        #expect(abs(gate.echoLevel! - (learnt - 3)) < 0.01)
    }

    @Test func learningStartsAfreshEachTimePlaybackStarts() {
        var gate = EchoGate()
        _ = Self.run(&gate, Self.echo)
        _ = Self.run(&gate, [(.silence, -90)], audible: false)
        #expect(gate.echoLevel == nil)
        #expect(Self.run(&gate, Self.repeated(.speech, -10, 5)) == Array(repeating: .faint, count: 5))
        #expect(gate.isLearning)
    }

    @Test func withNothingComingBackLearningEndsAfterItsLimit() {
        // Headphones: playback is audible to the user only. After a second the gate trusts the quiet.
        var gate = EchoGate()
        _ = Self.run(&gate, Self.repeated(.silence, -90, 100))
        #expect(!gate.isLearning)
        #expect(Self.run(&gate, Self.repeated(.speech, -30, 3)) == Array(repeating: .speech, count: 3))
    }

    @Test func aZeroMarginTurnsTheGateOff() {
        var gate = EchoGate(configuration: .init(margin: 0))
        #expect(Self.run(&gate, Self.echo).allSatisfy { $0 == .speech })
    }
}
