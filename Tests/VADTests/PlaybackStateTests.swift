import Testing
import VXShared
@testable import VAD

/// What the feedback events make of playback, on a clock the test moves.
struct PlaybackStateTests {
    static func event(_ type: String, at ns: Int64, _ more: [String: JSONValue] = [:]) -> Event {
        Event(type, ["timestamp": .int(ns / 1_000_000), "timestamp_ns": .int(ns)].merging(more) { _, new in new })
    }

    @Test func playingIsAudibleUntilPlayedAndTheTail() {
        let clock = ManualClock()
        let state = PlaybackState(tail: .milliseconds(250), clock: clock)
        #expect(!state.isAudible)
        #expect(state.handle(Self.event("playing", at: 0)))
        clock.advance(by: .seconds(10))
        #expect(state.isAudible)
        #expect(state.handle(Self.event("played", at: 0, ["end_ns": 10_000_000_000, "samples": 160_000])))
        clock.advance(by: .milliseconds(249))
        #expect(state.isAudible)
        clock.advance(by: .milliseconds(1))
        #expect(!state.isAudible)
    }

    @Test func theNextStretchStartingInsideTheTailKeepsPlaybackAudible() {
        let clock = ManualClock()
        let state = PlaybackState(tail: .milliseconds(250), clock: clock)
        state.handle(Self.event("playing", at: 0))
        state.handle(Self.event("playing", at: 2_000_000_000))  // vx-play may start the next before the last drained
        state.handle(Self.event("played", at: 0))
        clock.advance(by: .seconds(5))
        #expect(state.isAudible)
        state.handle(Self.event("played", at: 2_000_000_000))
        clock.advance(by: .milliseconds(250))
        #expect(!state.isAudible)
    }

    @Test func aStretchCutWhileQueuedEndsNothingThatBeganBeforeIt() {
        let clock = ManualClock()
        let state = PlaybackState(tail: .zero, clock: clock)
        state.handle(Self.event("playing", at: 1_000_000_000))
        // Reported with samples 0: it never played, and the one playing now began earlier.
        state.handle(Self.event("played", at: 0, ["samples": 0]))
        #expect(state.isAudible)
        // A later stretch's report ends the earlier one too (vx-play plays them in order).
        state.handle(Self.event("played", at: 3_000_000_000, ["samples": 0]))
        #expect(!state.isAudible)
    }

    @Test func interruptEndsAllPlaybackAfterTheTail() {
        let clock = ManualClock()
        let state = PlaybackState(tail: .milliseconds(100), clock: clock)
        state.handle(Self.event("playing", at: 0))
        state.handle(Self.event("playing", at: 5_000_000_000))
        #expect(state.handle(Event(EventType.interrupt, ["reason": "voice"])))
        #expect(state.isAudible)
        clock.advance(by: .milliseconds(100))
        #expect(!state.isAudible)
    }

    @Test func aLostPeerLeavesPlaybackInaudibleAtOnce() {
        let state = PlaybackState(tail: .seconds(1), clock: ManualClock())
        state.handle(Self.event("playing", at: 0))
        state.peerLost()
        #expect(!state.isAudible)
    }

    @Test func otherEventsAreIgnored() {
        let state = PlaybackState(clock: ManualClock())
        for type in ["spoken", "pong", "voice-started", "audio-start"] {
            #expect(!state.handle(Self.event(type, at: 0)))
        }
        #expect(!state.isAudible)
    }
}
