import Foundation
import Testing
@testable import STT
import VXShared

/// The stage's two threads with a scripted engine: what is forwarded, in what
/// order, and that forwarding never waits for the engine.
@Suite struct STTStageTests {
    let t0: UInt64 = Frames.second

    func time(_ samples: Int) -> UInt64 { t0 + AudioFormat.pipeline.nanoseconds(forFrames: samples) }

    /// audio-start, 0.4 s, voice-started, 1 s, voice-stopped, `after`, 0.2 s, audio-stop.
    func utteranceStream(after: [Frame] = [], id: Int = 0) -> [Frame] {
        let base = id * 40_000
        let start = t0 + AudioFormat.pipeline.nanoseconds(forFrames: base)
        func at(_ n: Int) -> UInt64 { start + AudioFormat.pipeline.nanoseconds(forFrames: n) }
        return [.event(.audioStart(.pipeline, timestamp: start))]
            + Frames.audio(ramp(6_400, from: 1), from: start)
            + [Frames.voiceStarted(onset: at(6_400), preroll: at(4_800))]
            + Frames.audio(ramp(16_000, from: 6_401), from: at(6_400))
            + [Frames.voiceStopped(at: at(20_000))] + after
            + Frames.audio(ramp(3_200, from: 22_401), from: at(22_400))
            + [.event(.audioStop(timestamp: at(25_600)))]
    }

    func stage(_ source: any ByteSource, _ sink: MemorySink, engine: any Transcriber,
               clock: any MonotonicClock = SystemClock(),
               _ configure: (inout STTConfiguration) -> Void = { _ in }) -> STTStage {
        var configuration = STTConfiguration()
        configuration.segmentation = .voice
        configure(&configuration)
        return STTStage(engine: engine, configuration: configuration,
                        reader: FrameReader(source: source, logger: quietLogger),
                        writer: FrameWriter(sink: sink), clock: clock, logger: quietLogger)
    }

    @Test func transcriptComesAfterItsVoiceStoppedWithChunksBeforeIt() throws {
        let sink = MemorySink(), engine = FakeTranscriber()
        let input = utteranceStream(after: [Frames.event("ping")])
        try stage(MemorySource(Frames.bytes(input)), sink, engine: engine).run()
        let frames = try sink.frames()
        #expect(!frames.contains { $0.audio != nil }, "audio is consumed")
        let types = frames.compactMap(\.event?.type)
        #expect(!types.contains("audio-start") && !types.contains("audio-stop"))
        let started = try #require(types.firstIndex(of: "voice-started"))
        let stopped = try #require(types.firstIndex(of: "voice-stopped"))
        let transcript = try #require(types.firstIndex(of: "transcript"))
        let chunks = types.indices.filter { types[$0] == "transcript-chunk" }
        #expect(!chunks.isEmpty)
        #expect(chunks.allSatisfy { $0 > started && $0 < transcript })
        #expect(transcript > stopped)
        #expect(types.filter { $0 != "transcript" && $0 != "transcript-chunk" } == ["voice-started", "voice-stopped", "ping"])
        let event = try sink.events()[transcript]
        #expect(event["text"] == "utterance 1")
        #expect(event["engine"] == "fake")
        #expect(event["start_ns"]?.int == Int(time(4_800)))
        #expect(event["end_ns"]?.int == Int(time(20_000)))
        // From the pre-roll (sample 4800) to the audio read before voice-stopped (sample 22400).
        #expect(engine.fed == [ramp(17_600, from: 4_801)])
    }

    /// final_ms is the engine's time on the critical path: from reading voice-stopped to the
    /// final text. The clock moves only while the engine finishes, so it is exactly that.
    @Test func transcriptCarriesTheTimeFromTheEndOfTheUtteranceToItsFinalText() throws {
        let sink = MemorySink(), engine = FakeTranscriber(), clock = ManualClock()
        engine.onFinish = { clock.advance(by: .milliseconds(137)) }
        try stage(MemorySource(Frames.bytes(utteranceStream())), sink, engine: engine, clock: clock).run()
        let transcripts = try sink.events().filter { $0.type == "transcript" }
        #expect(transcripts.map { $0["final_ms"]?.int } == [137])
    }

    @Test func chunksAreLookedAtEveryIntervalOfAudioAndSentOnlyWhenChanged() throws {
        let sink = MemorySink(), engine = FakeTranscriber()
        try stage(MemorySource(Frames.bytes(utteranceStream())), sink, engine: engine) {
            $0.partialInterval = .milliseconds(50)
        }.run()
        let chunks = try sink.events().filter { $0.type == "transcript-chunk" }.compactMap { $0["text"]?.string }
        // 1.1 s of audio (pre-roll to voice-stopped) looked at every 50 ms; the fake's text changes
        // every 100 ms, so every other look finds nothing new.
        #expect(chunks == (1...11).map { "heard \($0 * 100) ms" })
        #expect(try sink.events().filter { $0.type == "transcript-chunk" }.allSatisfy { $0["start_ns"]?.int == Int(time(4_800)) })
    }

    @Test func noChunksWhenPartialsAreOff() throws {
        let sink = MemorySink(), engine = FakeTranscriber()
        try stage(MemorySource(Frames.bytes(utteranceStream())), sink, engine: engine) { $0.partialInterval = nil }.run()
        #expect(try sink.events().map(\.type) == ["voice-started", "voice-stopped", "transcript"])
    }

    @Test func forwardedEventsKeepTheirExactBytes() throws {
        // Unusual but valid JSON: spaces, key order, an extra member.
        let payload = Array(#"{ "data": {"z":1, "a":[true,null]}, "type": "interrupt", "extra": 2 }"#.utf8)
        var bytes = Frames.bytes([.event(.audioStart(.pipeline, timestamp: 0))])
        bytes += [0x56, 0x58, 0x01, 0x45, 0, 0, 0, UInt8(payload.count)] + payload
        bytes += Frames.bytes([.event(.audioStop(timestamp: 0))])
        let sink = MemorySink()
        try stage(MemorySource(bytes), sink, engine: FakeTranscriber()).run()
        let frames = try sink.frames()
        #expect(frames.count == 1)
        #expect(frames.first?.event?.payload == payload)
    }

    @Test func emptyTextGivesNoTranscript() throws {
        let sink = MemorySink(), engine = FakeTranscriber()
        engine.finals = ["", "second"]
        try stage(MemorySource(Frames.bytes(utteranceStream(id: 0) + utteranceStream(id: 1))), sink, engine: engine).run()
        let transcripts = try sink.events().filter { $0.type == "transcript" }
        #expect(transcripts.map { $0["text"] } == ["second"])
        #expect(engine.calls == ["start", "finish", "start", "finish"])
    }

    /// The decoding thread is stuck in `finish()` (a remote engine waiting on
    /// HTTP): events read meanwhile still go straight through.
    @Test func eventsAreForwardedWhileTheEngineIsBusyFinishing() throws {
        let source = PipeSource(), sink = MemorySink(), engine = FakeTranscriber()
        let gate = DispatchSemaphore(value: 0)
        engine.finishGate = gate
        let stage = stage(source, sink, engine: engine)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: (any Error)?
        Thread.detachNewThread {
            do { try stage.run() } catch { failure = error }
            done.signal()
        }
        let stream = utteranceStream()
        let stop = stream.firstIndex { $0.event?.type == "voice-stopped" }!
        source.send(Array(stream[...stop]) + [Frames.event("interrupt"), Frames.event("ping")])
        #expect(sink.waitUntil { $0.contains { $0.type == "ping" } }, "events stopped flowing while the engine was busy")
        #expect(try !sink.events().contains { $0.type == "transcript" }, "the engine has not finished yet")
        // More audio and a second utterance's start still go through the reader.
        source.send([Frames.voiceStarted(onset: time(22_400), preroll: time(22_400))])
        #expect(sink.waitUntil { $0.filter { $0.type == "voice-started" }.count == 2 })
        gate.signal()
        gate.signal()
        source.send(Array(stream[(stop + 1)...]))
        source.endInput()
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect(failure == nil)
        let types = try sink.events().map(\.type).filter { $0 != "transcript-chunk" }
        #expect(types == ["voice-started", "voice-stopped", "interrupt", "ping", "voice-started", "transcript", "transcript"])
    }

    @Test func engineFailureIsAnErrorEventAndTheNextUtteranceIsTranscribed() throws {
        let sink = MemorySink(), engine = FakeTranscriber()
        engine.failingFinishes = [1]
        try stage(MemorySource(Frames.bytes(utteranceStream(id: 0) + utteranceStream(id: 1))), sink, engine: engine) {
            $0.partialInterval = nil
        }.run()
        let events = try sink.events()
        // Forwarded events never wait for decoding, so the first utterance's error may come
        // before or after the second voice-started; it always comes after its own voice-stopped
        // and before the second utterance's transcript.
        #expect(events.map(\.type).filter { $0 != "error" } == ["voice-started", "voice-stopped", "voice-started", "voice-stopped", "transcript"])
        let error = try #require(events.firstIndex { $0.type == "error" })
        let firstStop = try #require(events.firstIndex { $0.type == "voice-stopped" })
        let transcript = try #require(events.firstIndex { $0.type == "transcript" })
        #expect(firstStop < error && error < transcript)
        #expect(events[error]["code"] == "stt-failed")
        #expect(events[error]["text"]?.string?.contains("fake finish") == true)
        #expect(events[transcript]["text"] == "utterance 2")
    }

    @Test func badInputIsReportedAfterWhatCameBeforeItIsTranscribed() throws {
        let sink = MemorySink(), engine = FakeTranscriber()
        let stream = utteranceStream()
        let stop = stream.firstIndex { $0.event?.type == "voice-stopped" }!
        let bytes = Frames.bytes(Array(stream[...stop])) + Array("garbage".utf8)
        #expect(throws: FrameError.self) {
            try stage(MemorySource(bytes), sink, engine: engine) { $0.partialInterval = nil }.run()
        }
        #expect(try sink.events().map(\.type) == ["voice-started", "voice-stopped", "transcript"])
    }

    @Test func fileFasterThanRealTimeIsDecodedWithBoundedBacklog() throws {
        // 10 s of audio into a 0.5 s backlog: the reader waits for the decoder instead of queueing it all.
        let sink = MemorySink(), engine = FakeTranscriber()
        let frames = [.event(.audioStart(.pipeline, timestamp: 0))] + Frames.audio(ramp(160_000), from: 0)
            + [.event(.audioStop(timestamp: 10 * Frames.second))]
        try stage(MemorySource(Frames.bytes(frames)), sink, engine: engine) {
            $0.segmentation = .stretch
            $0.backlog = .milliseconds(500)
        }.run()
        #expect(engine.fed == [ramp(160_000)])
    }
}
