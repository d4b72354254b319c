import Foundation
import Testing
@testable import STT
import VXShared

/// The reading side on its own: which audio goes to the decoder, when
/// utterances start and end, and what is forwarded. The audio is a ramp, so
/// every fed sample says which sample of the stream it was.
@Suite struct UtteranceSegmenterTests {
    typealias Step = UtteranceSegmenter.Step
    let t0: UInt64 = 3 * Frames.second  // stretches start later than 0, to catch offsets

    func run(_ frames: [Frame], _ configure: (inout STTConfiguration) -> Void = { _ in }) throws -> [Step] {
        var configuration = STTConfiguration()
        configure(&configuration)
        var segmenter = UtteranceSegmenter(configuration: configuration, logger: quietLogger)
        var steps: [Step] = []
        for frame in frames { steps += try segmenter.handle(frame) }
        return steps + segmenter.finishInput()
    }

    func start(_ at: UInt64) -> Frame { .event(.audioStart(.pipeline, timestamp: at)) }
    func stop(_ at: UInt64) -> Frame { .event(.audioStop(timestamp: at)) }
    func time(_ samples: Int) -> UInt64 { t0 + AudioFormat.pipeline.nanoseconds(forFrames: samples) }

    func commands(_ steps: [Step]) -> [DecodeCommand] {
        steps.compactMap { if case .decode(let c) = $0 { c } else { nil } }
    }

    /// Each utterance's audio, in order.
    func utterances(_ steps: [Step]) -> [[Int16]] {
        var out: [[Int16]] = []
        for command in commands(steps) {
            switch command {
            case .start: out.append([])
            case .feed(let samples): out[out.count - 1] += samples
            case .cancel: out.removeLast()
            case .finish: break
            }
        }
        return out
    }

    func finishes(_ steps: [Step]) -> [UtteranceEnd] {
        commands(steps).compactMap { if case .finish(let end) = $0 { end } else { nil } }
    }

    func starts(_ steps: [Step]) -> [Utterance] {
        commands(steps).compactMap { if case .start(let u) = $0 { u } else { nil } }
    }

    func forwarded(_ steps: [Step]) -> [String] {
        steps.compactMap { if case .forward(let e) = $0 { e.type } else { nil } }
    }

    @Test func stretchWithoutVoiceEventsIsOneUtteranceEndingAtAudioStop() throws {
        let steps = try run([start(t0)] + Frames.audio(ramp(16_000), from: t0) + [stop(time(16_000))])
        #expect(starts(steps) == [Utterance(id: 1, startNs: t0)])
        #expect(utterances(steps) == [ramp(16_000)])
        #expect(finishes(steps) == [UtteranceEnd(endNs: t0 + Frames.second, reason: "audio-stop")])
        #expect(forwarded(steps).isEmpty, "audio is consumed, not forwarded")
    }

    @Test func voiceStartedTakesAudioFromItsPreRollToTheSample() throws {
        // preroll_ns lies between samples 4997 and 4998, nearer 4998.
        let preroll = t0 + 312_345_678
        let frames = [start(t0)] + Frames.audio(ramp(12_800), from: t0)
            + [Frames.voiceStarted(onset: time(9_600), preroll: preroll)]
            + Frames.audio(ramp(6_400, from: 12_800), from: time(12_800))
            + [Frames.voiceStopped(at: time(16_000))]
            + Frames.audio(ramp(3_200, from: 19_200), from: time(19_200)) + [stop(time(22_400))]
        let steps = try run(frames) { $0.segmentation = .voice }
        #expect(starts(steps) == [Utterance(id: 1, startNs: time(4_998))])
        #expect(utterances(steps) == [ramp(19_200 - 4_998, from: 4_998)], "from the pre-roll to voice-stopped, nothing after")
        #expect(finishes(steps) == [UtteranceEnd(endNs: time(16_000), reason: "silence")])
        #expect(forwarded(steps) == ["voice-started", "voice-stopped"])
    }

    @Test func voiceEventsAreForwardedBeforeTheirCommands() throws {
        let frames = [start(t0)] + Frames.audio(ramp(3_200), from: t0)
            + [Frames.voiceStarted(onset: time(1_600), preroll: time(1_000))]
            + Frames.audio(ramp(3_200, from: 3_200), from: time(3_200))
            + [Frames.voiceStopped(at: time(6_000)), stop(time(6_400))]
        let steps = try run(frames) { $0.segmentation = .voice }
        let kinds = steps.map { step -> String in
            switch step {
            case .forward(let e): e.type
            case .decode(.start): "start"
            case .decode(.feed): "feed"
            case .decode(.finish): "finish"
            case .decode(.cancel): "cancel"
            }
        }
        let collapsed = kinds.reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
        #expect(collapsed == ["voice-started", "start", "feed", "voice-stopped", "finish"])
    }

    @Test func preRollStillToComeIsWaitedFor() throws {
        let frames = [start(t0)] + Frames.audio(ramp(3_200), from: t0)
            + [Frames.voiceStarted(onset: time(4_000), preroll: time(4_000))]
            + Frames.audio(ramp(3_200, from: 3_200), from: time(3_200)) + [Frames.voiceStopped(at: time(6_400))]
        let steps = try run(frames) { $0.segmentation = .voice }
        #expect(utterances(steps) == [ramp(2_400, from: 4_000)])
    }

    @Test func preRollOlderThanTheBufferStartsAtItsOldestSample() throws {
        let frames = [start(t0)] + Frames.audio(ramp(16_000), from: t0)
            + [Frames.voiceStarted(onset: time(12_000), preroll: t0), Frames.voiceStopped(at: time(16_000))]
        let steps = try run(frames) {
            $0.segmentation = .voice
            $0.prerollBuffer = .milliseconds(200)
        }
        #expect(utterances(steps) == [ramp(3_200, from: 12_800)])
        #expect(starts(steps).map(\.startNs) == [time(12_800)])
    }

    @Test func autoModeDropsTheWholeStretchUtteranceAtTheFirstVoiceEventThenFollowsVoiceEvents() throws {
        let first = [start(t0)] + Frames.audio(ramp(8_000), from: t0)
            + [Frames.voiceStarted(onset: time(6_400), preroll: time(4_800))]
            + Frames.audio(ramp(8_000, from: 8_000), from: time(8_000))
            + [Frames.voiceStopped(at: time(14_000)), stop(time(16_000))]
        // A second stretch: no voice events in it, so no utterance either.
        let second = [start(time(16_000))] + Frames.audio(ramp(8_000, from: 16_000), from: time(16_000))
            + [stop(time(24_000))]
        let steps = try run(first + second)
        let cancels = commands(steps).filter { $0 == .cancel }
        #expect(cancels.count == 1)
        #expect(utterances(steps) == [ramp(11_200, from: 4_800)])
        #expect(finishes(steps).map(\.reason) == ["silence"])
    }

    @Test func stretchModeIgnoresVoiceEventsButForwardsThem() throws {
        let frames = [start(t0)] + Frames.audio(ramp(8_000), from: t0)
            + [Frames.voiceStarted(onset: time(3_200), preroll: time(1_600)), Frames.voiceStopped(at: time(6_400))]
            + [stop(time(8_000))]
        let steps = try run(frames) { $0.segmentation = .stretch }
        #expect(utterances(steps) == [ramp(8_000)])
        #expect(forwarded(steps) == ["voice-started", "voice-stopped"])
        #expect(finishes(steps).map(\.reason) == ["audio-stop"])
    }

    @Test func overLongUtteranceIsCutAndWhatFollowsStartsAnother() throws {
        let steps = try run([start(t0)] + Frames.audio(ramp(19_200), from: t0) + [stop(time(19_200))]) {
            $0.maxUtterance = .milliseconds(500)
        }
        #expect(utterances(steps) == [ramp(8_000), ramp(8_000, from: 8_000), ramp(3_200, from: 16_000)])
        #expect(finishes(steps).map(\.reason) == ["max-utterance", "max-utterance", "audio-stop"])
        #expect(finishes(steps).map(\.endNs) == [time(8_000), time(16_000), time(19_200)])
        #expect(starts(steps).map(\.startNs) == [t0, time(8_000), time(16_000)])
    }

    @Test func vadStopForMaxUtteranceEndsTheUtteranceLikeAnyStop() throws {
        let frames = [start(t0)] + Frames.audio(ramp(3_200), from: t0)
            + [Frames.voiceStarted(onset: 0, preroll: t0)] + Frames.audio(ramp(3_200, from: 3_200), from: time(3_200))
            + [Frames.voiceStopped(at: time(6_400), reason: "max-utterance")]
        let steps = try run(frames) { $0.segmentation = .voice }
        #expect(finishes(steps) == [UtteranceEnd(endNs: time(6_400), reason: "max-utterance")])
        #expect(utterances(steps) == [ramp(6_400)])
    }

    @Test func gapInTheAudioIsSilenceAndLaterSamplesKeepTheirTime() throws {
        var audio = Frames.audio(ramp(9_600), from: t0)
        audio.remove(at: 10)  // samples 3200..<3520 never arrive
        let steps = try run([start(t0)] + audio + [stop(time(9_600))])
        var expected = ramp(9_600)
        expected.replaceSubrange(3_200..<3_520, with: repeatElement(0, count: 320))
        #expect(utterances(steps) == [expected])
    }

    @Test func overlappingAudioIsNotFedTwice() throws {
        var audio = Frames.audio(ramp(6_400), from: t0)
        audio.insert(audio[5], at: 6)  // frame 5 again
        let steps = try run([start(t0)] + audio + [stop(time(6_400))])
        #expect(utterances(steps) == [ramp(6_400)])
    }

    @Test func audioInAnotherFormatIsConvertedTo16kMono() throws {
        // 1 s of 48 kHz stereo 32-bit: a 440 Hz tone at half scale.
        let format = AudioFormat(rate: 48_000, width: 4, channels: 2)
        var pcm: [UInt8] = []
        for i in 0..<48_000 {
            let phase = 2 * Double.pi * 440 * Double(i) / 48_000
            let v = Int32(sin(phase) * 1_073_741_824)
            let u = UInt32(bitPattern: v)
            for _ in 0..<2 { pcm += [UInt8(u & 0xff), UInt8(u >> 8 & 0xff), UInt8(u >> 16 & 0xff), UInt8(u >> 24)] }
        }
        var frames: [Frame] = [.event(.audioStart(format, timestamp: t0))]
        for (n, i) in stride(from: 0, to: pcm.count, by: 7_680).enumerated() {
            frames.append(.audio(AudioChunk(timestamp: t0 + UInt64(n) * 20_000_000, pcm: Array(pcm[i..<min(i + 7_680, pcm.count)]))))
        }
        frames.append(stop(t0 + Frames.second))
        let audio = try #require(utterances(try run(frames)).first)
        #expect(abs(audio.count - 16_000) <= 16, "\(audio.count) samples for 1 s")
        let peak = audio.dropFirst(1_000).dropLast(1_000).map { abs(Int($0)) }.max() ?? 0
        #expect(abs(peak - 16_384) < 400, "peak \(peak): half scale survives conversion")
    }

    @Test func otherEventsAreForwardedUnchangedAndInOrder() throws {
        let frames = [Frames.event("ping", ["text": "1"]), start(t0), Frames.event("interrupt")]
            + Frames.audio(ramp(640), from: t0) + [Frames.event("reply", ["text": "x"]), stop(time(640)), Frames.event("pong")]
        let steps = try run(frames)
        let events = steps.compactMap { if case .forward(let e) = $0 { e } else { nil } }
        #expect(events == [Event("ping", ["text": "1"]), Event("interrupt"), Event("reply", ["text": "x"]), Event("pong")])
    }

    @Test func inputEndingInsideAnUtteranceFinishesIt() throws {
        let steps = try run([start(t0)] + Frames.audio(ramp(3_200), from: t0))
        #expect(finishes(steps) == [UtteranceEnd(endNs: time(3_200), reason: "end-of-input")])
        #expect(utterances(steps) == [ramp(3_200)])
    }
}
