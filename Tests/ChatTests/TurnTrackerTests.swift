import Testing
import VXShared
@testable import Chat

/// The tracker fed the events of a turn, as they reach the supervisor, at made-up instants.
@Suite struct TurnTrackerTests {
    func at(_ ms: Int) -> Duration { .milliseconds(ms) }

    func e(_ type: String, _ data: [String: JSONValue] = [:]) -> Event { Event(type, data) }

    /// A turn: speech ends at stream 3.0 s, the VAD decides at 3.6 s (arriving at wall 10 000 ms).
    func playTurn(_ t: inout TurnTracker, start: Int = 10_000, id: String = "r1") -> [TurnTracker.Action] {
        var actions: [TurnTracker.Action] = []
        actions += t.handle(e("voice-started", ["timestamp_ns": 1_000_000_000, "decided_ns": 1_200_000_000]), at: at(start - 2600))
        actions += t.handle(e("voice-stopped", ["timestamp_ns": 3_000_000_000, "decided_ns": 3_600_000_000]), at: at(start))
        actions += t.handle(e("transcript", ["text": "what time is it", "final_ms": 40.0]), at: at(start + 50))
        actions += t.handle(e("reply-chunk", ["text": "It is ", "id": .string(id), "engine_ms": 90.0]), at: at(start + 150))
        actions += t.handle(e("reply-chunk", ["text": "noon. ", "id": .string(id), "engine_ms": 140.0]), at: at(start + 200))
        actions += t.handle(e("spoken", ["text": "It is noon.", "timestamp_ns": 0, "end_ns": 1_000_000_000, "synth_ms": 5.0,
                                         "id": .string(id)]), at: at(start + 206))
        actions += t.handle(e("playing", ["timestamp_ns": 0]), at: at(start + 210))
        actions += t.handle(e("reply", ["text": "It is noon.", "id": .string(id), "interrupted": false]), at: at(start + 260))
        return actions
    }

    @Test func aTurnIsMeasuredFromTheRealEndOfSpeech() throws {
        var t = TurnTracker()
        let actions = playTurn(&t)
        let records = actions.compactMap { if case .turn(let r) = $0 { r } else { nil } }
        let r = try #require(records.first)
        #expect(records.count == 1)
        #expect(r.index == 1)
        #expect(r.text == "what time is it")
        #expect(r.silenceWindow == 600)
        #expect(r.toTranscript == 50)
        #expect(r.toFirstToken == 100)
        #expect(r.toFirstAudio == 56)
        #expect(r.toFirstPlayed == 4)
        #expect(r.voiceToVoice == 210)
        #expect(r.voiceToVoiceWithSilence == 810)
        #expect(r.engines == 185.0)
        #expect(!t.isIdle)  // still playing
        #expect(actions.contains(.toVAD(e("playing", ["timestamp_ns": 0]))))
        _ = t.handle(e("played", ["timestamp_ns": 0, "end_ns": 1_000_000_000, "interrupted": false]), at: at(11_300))
        #expect(t.isIdle)
        #expect(t.phase == .listening)
    }

    @Test func aBargeInTellsTheLLMWhatWasHeard() throws {
        var t = TurnTracker()
        _ = t.handle(e("transcript", ["text": "tell me a story"]), at: at(0))
        _ = t.handle(e("reply-chunk", ["text": "Once upon a time there was a fox. It ran far away.", "id": "r7"]), at: at(100))
        _ = t.handle(e("spoken", ["text": "Once upon a time there was a fox.", "timestamp_ns": 5_000_000_000,
                                  "end_ns": 7_000_000_000, "id": "r7"]), at: at(110))
        _ = t.handle(e("spoken", ["text": "It ran far away.", "timestamp_ns": 7_000_000_000, "end_ns": 8_000_000_000,
                                  "id": "r7"]), at: at(111))
        _ = t.handle(e("playing", ["timestamp_ns": 5_000_000_000]), at: at(120))
        // The user speaks at wall 2 000 ms; the VAD decides 100 ms of speech later.
        _ = t.handle(e("interrupt", ["timestamp_ns": 40_000_000_000, "decided_ns": 40_100_000_000]), at: at(2_100))
        _ = t.handle(e("reply", ["text": "Once upon a time there was a fox. It ran far away.", "id": "r7",
                                 "interrupted": true]), at: at(2_101))
        // Cut half way through the second sentence.
        let actions = t.handle(e("played", ["timestamp_ns": 5_000_000_000, "end_ns": 7_500_000_000, "samples": 40_000,
                                            "interrupted": true]), at: at(2_130))
        #expect(actions.contains(.toLLM(e("heard", ["text": "Once upon a time there was a fox. It ran", "id": "r7"]))))
        let barge = try #require(t.bargeIns.first)
        #expect(barge.onsetToSilence == 130)
        #expect(t.isIdle)
    }

    @Test func aReplyCutBeforeItPlayedWasNotHeardAtAll() {
        var t = TurnTracker()
        _ = t.handle(e("transcript", ["text": "hello"]), at: at(0))
        _ = t.handle(e("reply-chunk", ["text": "Hi there.", "id": "r2"]), at: at(100))
        _ = t.handle(e("spoken", ["text": "Hi there.", "timestamp_ns": 0, "end_ns": 900_000_000, "id": "r2"]), at: at(110))
        _ = t.handle(e("reply", ["text": "Hi there.", "id": "r2", "interrupted": true]), at: at(120))
        let actions = t.handle(e("played", ["timestamp_ns": 0, "end_ns": 0, "samples": 0, "interrupted": true]), at: at(125))
        #expect(actions.contains(.toLLM(e("heard", ["text": "", "id": "r2"]))))
        #expect(t.records.isEmpty)
        #expect(t.isIdle)
    }

    @Test func percentilesAreNearestRank() {
        let p = Percentiles([5, 1, 4, 2, 3, 6, 7, 8, 9, 10])
        #expect(p.percentile(50) == 5)
        #expect(p.percentile(95) == 10)
        #expect(Percentiles([]).percentile(50) == nil)
    }

    @Test func theSummaryGivesP50AndP95() {
        var t = TurnTracker()
        _ = playTurn(&t)
        let s = Supervisor.summary(records: t.records, bargeIns: [])
        #expect(s == "1 turn; voice-to-voice p50 210.0 ms, p95 210.0 ms; with the silence window p50 810.0 ms, p95 810.0 ms; engines p50 185.0 ms, p95 185.0 ms")
    }
}
