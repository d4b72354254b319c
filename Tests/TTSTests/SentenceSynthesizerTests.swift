import Foundation
import Logging
import Testing
import VXNet
import VXShared
@testable import TTS

struct SentenceSynthesizerTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vx-tts-synth-\(UUID().uuidString.prefix(8))").path
    let logger = Logger(label: "tts-tests") { _ in SwiftLogNoOpLogHandler() }

    @Test(arguments: ["flite", "espeak"])
    func secondTimeASentenceComesFromTheCacheIdentical(engine name: String) throws {
        let engine: any SpeechEngine = name == "flite" ? FliteEngine.shared : try ESpeakEngine.shared()
        let cache = try SpeechCache(directory: directory, capacity: 1 << 24, logger: logger)
        let synthesizer = SentenceSynthesizer(engine: engine, format: .pipeline, cache: cache)
        let text = "Repeated phrases come back at once."
        let first = try #require(try synthesizer.speak(text, voice: engine.defaultVoice, stop: Cancellation()))
        #expect(!first.cached)
        synthesizer.remember(text, voice: engine.defaultVoice, pcm: first.pcm)
        let second = try #require(try synthesizer.speak(text, voice: engine.defaultVoice, stop: Cancellation()))
        #expect(second.cached)
        #expect(second.pcm == first.pcm)
        #expect(cache.statistics.hits == 1)
        // Output format: 16 kHz mono 16-bit, about two seconds of speech, espeak's 22 050 Hz resampled.
        let seconds = Double(first.pcm.count) / 2 / 16_000
        #expect(seconds > 1.2 && seconds < 4, "\(seconds) s")
    }

    @Test func resamplingKeepsTheDuration() throws {
        let engine = FliteEngine.shared
        let at16 = try #require(try SentenceSynthesizer(engine: engine, format: .pipeline, cache: nil)
            .speak("Keep the duration.", voice: "kal16", stop: Cancellation()))
        let at48 = try #require(try SentenceSynthesizer(engine: engine, format: AudioFormat(rate: 48_000, width: 2, channels: 1), cache: nil)
            .speak("Keep the duration.", voice: "kal16", stop: Cancellation()))
        let ratio = Double(at48.pcm.count) / Double(at16.pcm.count)
        #expect(abs(ratio - 3) < 0.01, "\(ratio)")
    }

    @Test func cancelledSentenceGivesNothingAndIsNotCached() throws {
        let cache = try SpeechCache(directory: directory, capacity: 1 << 24, logger: logger)
        let synthesizer = SentenceSynthesizer(engine: FliteEngine.shared, format: .pipeline, cache: cache)
        let stop = Cancellation()
        stop.cancel()
        #expect(try synthesizer.speak("Never said.", voice: "kal16", stop: stop) == nil)
        #expect(cache.statistics.stores == 0)
    }

    @Test func speakableTextLosesMarkdownAndNeedsAWord() {
        #expect(SpeakableText.prepare("**Bold** and `code`!") == "Bold and code!")
        #expect(SpeakableText.prepare("## Heading") == "Heading")
        #expect(SpeakableText.prepare("- a bullet") == "a bullet")
        #expect(SpeakableText.prepare("Two\t\tspaces\u{0}here") == "Two spaces here")
        #expect(SpeakableText.prepare("...") == nil)
        #expect(SpeakableText.prepare("—") == nil)
        #expect(SpeakableText.prepare("42.") == "42.")
    }
}
