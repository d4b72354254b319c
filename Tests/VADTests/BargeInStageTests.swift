import Foundation
import Logging
import Testing
import VXShared
@testable import VAD

/// The stage in-process with the energy engine and playback state set by the
/// test, on noise bursts whose edges and levels are exact: a quiet burst plays
/// the assistant's echo, a burst 20 dB louder the user speaking over it.
/// Playback is audible from the start, with the echo 300 ms later (the
/// speaker's latency and the voice's leading silence), as in the room.
struct BargeInStageTests {
    typealias Harness = VoiceActivityDetectorTests

    /// A 16 kHz stretch: `parts` of (seconds, white-noise amplitude; 0 for digital silence), in 20 ms frames.
    static func stretch(_ parts: [(Double, Double)]) -> [Frame] {
        var random = SplitMix(seed: 11)
        var frames: [Frame] = [.event(.audioStart(.pipeline, timestamp: 0))]
        var position = 0
        for (seconds, amplitude) in parts {
            let count = Int(seconds * 16_000)
            for first in stride(from: 0, to: count, by: 320) {
                var pcm: [UInt8] = []
                for _ in 0..<min(320, count - first) {
                    let x = Double(Int64(random.next() % 65_536) - 32_768) / 32_768 * amplitude
                    let v = Int16((x * 32_767).rounded())
                    pcm += [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)]
                }
                frames.append(.audio(AudioChunk(timestamp: AudioFormat.pipeline.nanoseconds(forFrames: position + first), pcm: pcm)))
            }
            position += count
        }
        frames.append(.event(.audioStop(timestamp: AudioFormat.pipeline.nanoseconds(forFrames: position))))
        return frames
    }

    /// Runs the stage with barge-in on; `playing` says playback is audible (for good: the clock never moves).
    static func run(_ input: [Frame], playing: Bool) throws -> [Frame] {
        let playback = PlaybackState(clock: ManualClock())
        if playing { playback.handle(Event("playing", ["timestamp": 0, "timestamp_ns": 0])) }
        var configuration = Harness.energy()
        configuration.bargeIn = BargeInDetector.Configuration(speech: 100_000_000)
        let sink = Harness.MemorySink()
        let detector = try VoiceActivityDetector(configuration: configuration, playback: playback, logger: Harness.logger)
        try detector.run(reader: FrameReader(source: Harness.MemorySource(Harness.encode(input)), logger: Harness.logger),
                         writer: FrameWriter(sink: sink))
        var decoder = FrameDecoder()
        decoder.append(contentsOf: sink.snapshot)
        var frames: [Frame] = []
        while let frame = try decoder.next() { frames.append(frame) }
        let forwarded = frames.filter { !isInserted($0) } == input
        #expect(forwarded)
        return frames
    }

    static func isInserted(_ frame: Frame) -> Bool {
        ["voice-started", "voice-stopped", "interrupt"].contains(frame.event?.type ?? "")
    }

    static func ns(_ event: Event, _ key: String) -> UInt64 { UInt64(event[key]?.int ?? -1) }

    /// The stream time just after the last audio frame before `index`.
    static func audioEnd(before index: Int, in frames: [Frame]) -> UInt64 {
        let chunk = frames[..<index].last { $0.audio != nil }!.audio!
        return chunk.timestamp + AudioFormat.pipeline.nanoseconds(forFrames: chunk.pcm.count / 2)
    }

    @Test func withoutPlaybackTheUtterancesStartInterruptsRightAfterVoiceStarted() throws {
        let output = try Self.run(Self.stretch([(1, 0), (0.5, 0.1), (1, 0), (0.5, 0.1), (1, 0)]), playing: false)
        let inserted = output.enumerated().filter { Self.isInserted($0.element) }
        #expect(inserted.map(\.element.event!.type) == [
            "voice-started", "interrupt", "voice-stopped", "voice-started", "interrupt", "voice-stopped",
        ])
        for pair in [(0, 1), (3, 4)] {
            let (started, interrupt) = (inserted[pair.0], inserted[pair.1])
            #expect(interrupt.offset == started.offset + 1)
            #expect(interrupt.element.event!["reason"] == "voice")
            #expect(interrupt.element.event!["timestamp_ns"] == started.element.event!["timestamp_ns"])
            #expect(interrupt.element.event!["decided_ns"] == started.element.event!["decided_ns"])
        }
        // decided_ns: just after the audio frame each event follows.
        for (index, frame) in inserted {
            let event = frame.event!
            #expect(Self.ns(event, "decided_ns") == Self.audioEnd(before: index, in: output), "\(event.jsonText)")
            #expect(Self.ns(event, "decided_ns") >= Self.ns(event, "timestamp_ns"))
        }
    }

    @Test func echoAloneDuringPlaybackStartsNothing() throws {
        let echo = Self.stretch([(0.3, 0), (1.5, 0.01), (1, 0)])
        let heard = try Self.run(echo, playing: false).filter(Self.isInserted)
        #expect(heard.first?.event?.type == "voice-started")  // without playback it is speech
        let inserted = try Self.run(echo, playing: true).filter(Self.isInserted).compactMap(\.event)
        #expect(inserted.isEmpty, "\(inserted.map(\.jsonText))")
    }

    @Test func aVoiceClearlyLouderThanTheEchoInterruptsAfterBargeInSpeechBeforeVoiceStarted() throws {
        let output = try Self.run(Self.stretch([(0.3, 0), (1, 0.01), (0.6, 0.1), (1, 0.01), (1, 0)]), playing: true)
        let events = output.compactMap(\.event).filter { Self.isInserted(.event($0)) }
        try #require(events.map(\.type) == ["interrupt", "voice-started", "voice-stopped"], "\(events.map(\.jsonText))")
        let interrupt = events[0]
        #expect(interrupt["timestamp_ns"] == 1_300_000_000 && interrupt["timestamp"] == 1_300)
        let took = Self.ns(interrupt, "decided_ns") - Self.ns(interrupt, "timestamp_ns")
        #expect(took >= 100_000_000 && took < 120_000_000, "decided \(took / 1_000_000) ms after the onset")
        #expect(events[1]["timestamp_ns"] == 1_300_000_000)
        #expect(Self.ns(events[1], "decided_ns") >= Self.ns(interrupt, "decided_ns"))
        // The louder burst ends at 1.9 s; the echo after it is no speech.
        #expect(events[2]["timestamp_ns"] == 1_900_000_000 || events[2]["timestamp_ns"] == 1_910_000_000, "\(events[2].jsonText)")
    }
}
