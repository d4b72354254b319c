import Testing
import VXNet
import VXShared
@testable import TTS

/// The real engines: flite and espeak-ng, as linked into vx-tts.
struct EngineTests {
    static let sentence = "The quick brown fox jumps over the lazy dog."

    static func engine(_ name: String) throws -> any SpeechEngine {
        name == "flite" ? FliteEngine.shared : try ESpeakEngine.shared()
    }

    /// What an engine hands its sink for one text.
    struct Collected {
        var pieces = 0
        var samples: [Int16] = []
        var rates: Set<Int> = []
        var seconds: Double { rates.first.map { Double(samples.count) / Double($0) } ?? 0 }
        var peak: Int { samples.map { abs(Int($0)) }.max() ?? 0 }
    }

    static func speak(_ engine: any SpeechEngine, _ text: String, voice: String? = nil,
                      stopAfterPieces: Int? = nil) throws -> (Bool, Collected) {
        var got = Collected()
        let stop = Cancellation()
        let completed = try engine.synthesize(text, voice: voice ?? engine.defaultVoice, stop: stop) { piece, rate in
            got.pieces += 1
            got.samples += piece
            got.rates.insert(rate)
            if let limit = stopAfterPieces, got.pieces >= limit { stop.cancel() }
        }
        return (completed, got)
    }

    @Test(arguments: [("flite", "kal16", 16_000), ("flite", "kal", 8_000), ("flite", "slt", 16_000), ("espeak", "en-us", 22_050)])
    func sentenceGivesAudioOfPlausibleDuration(engine name: String, voice: String, rate: Int) throws {
        let (completed, got) = try Self.speak(Self.engine(name), Self.sentence, voice: voice)
        #expect(completed)
        #expect(got.rates == [rate])
        // Nine words at a normal pace: about 2 to 4 seconds.
        #expect(got.seconds > 1.5 && got.seconds < 4.5, "\(got.seconds) s")
        #expect(got.peak > 3_000, "the audio is not silence")
    }

    @Test(arguments: ["flite", "espeak"])
    func longerTextGivesLongerAudio(engine name: String) throws {
        let engine = try Self.engine(name)
        let (_, short) = try Self.speak(engine, "Hello.")
        let (_, long) = try Self.speak(engine, "Hello. This sentence has quite a few more words in it than the first one.")
        #expect(long.seconds > short.seconds * 3)
    }

    @Test(arguments: ["flite", "espeak"])
    func cancellingStopsWithinOneChunkAndTheEngineSpeaksAgainAfterwards(engine name: String) throws {
        let engine = try Self.engine(name)
        let long = String(repeating: "This is a long text that would take a while to say. ", count: 4)
        let (_, whole) = try Self.speak(engine, long)
        let (completed, cut) = try Self.speak(engine, long, stopAfterPieces: 1)
        #expect(!completed)
        #expect(cut.pieces == 1, "no audio is delivered after the chunk in which the stop was seen")
        #expect(cut.samples.count < whole.samples.count / 10)
        let (again, next) = try Self.speak(engine, Self.sentence)
        #expect(again)
        #expect(next.seconds > 1.5)
    }

    @Test(arguments: ["flite", "espeak"])
    func alreadyCancelledDoesNotSpeak(engine name: String) throws {
        let stop = Cancellation()
        stop.cancel()
        var pieces = 0
        let completed = try Self.engine(name).synthesize("Hello there.", voice: Self.engine(name).defaultVoice, stop: stop) { _, _ in
            pieces += 1
        }
        #expect(!completed)
        #expect(pieces == 0)
    }

    @Test func unknownVoicesAreRefused() throws {
        #expect(throws: TTSError.self) { try FliteEngine.shared.checkVoice("awb") }
        #expect(throws: TTSError.self) { try ESpeakEngine.shared().checkVoice("no-such-voice") }
        try ESpeakEngine.shared().checkVoice("de")
        try FliteEngine.shared.checkVoice("slt")
    }

    @Test func espeakSpeaksOtherLanguages() throws {
        let (completed, got) = try Self.speak(ESpeakEngine.shared(), "Guten Morgen, wie geht es Ihnen?", voice: "de")
        #expect(completed)
        #expect(got.seconds > 1)
    }
}
