import Foundation
import Testing
@testable import STT
import VXShared

/// The real engine on real speech: a human recording and flite sentences.
/// Serialized: each decoder holds ~130 MB and the machine has two cores.
@Suite(.serialized) struct PocketSphinxTranscriberTests {
    @Test func humanRecordingDecodesToItsWords() throws {
        let engine = try PocketSphinxTranscriber(model: .english)
        let result = try transcribe(try Speech.goForward(), with: engine)
        #expect(result.text == Speech.goForwardText)
    }

    @Test(arguments: PocketSphinxSearch.allCases)
    func everySearchDecodesTheHumanRecording(search: PocketSphinxSearch) throws {
        let engine = try PocketSphinxTranscriber(model: .english, search: search)
        #expect(try transcribe(try Speech.goForward(), with: engine).text == Speech.goForwardText)
    }

    /// The default search is the one whose final comes soonest after the utterance ends; the
    /// configuration it reports is what `pocketsphinx_continuous` needs to search the same way.
    @Test func defaultSearchIsOnePassAndItsConfigurationIsReported() throws {
        let engine = try PocketSphinxTranscriber(model: .english)
        let model = PocketSphinxModel.english
        #expect(engine.configuration == ["-hmm", model.hmm, "-lm", model.lm, "-dict", model.dict]
            + PocketSphinxSearch.onePass.arguments)
        #expect(PocketSphinxSearch.onePass.arguments.starts(with: ["-fwdflat", "no"]))
        #expect(PocketSphinxSearch.twoPass.arguments.isEmpty, "two-pass is pocketsphinx's own default")
    }

    @Test func partialHypothesesGrowWhileAudioArrives() throws {
        let engine = try PocketSphinxTranscriber(model: .english)
        #expect(engine.supportsPartials)
        let result = try transcribe(try Speech.goForward(), with: engine)
        #expect(result.partials.count >= 2, "partials: \(result.partials)")
        #expect(result.partials.first?.hasPrefix("go") == true, "partials: \(result.partials)")
    }

    @Test(arguments: PocketSphinxSearch.allCases)
    func fliteSentencesHaveAWordErrorRateOfAtMostTenPercent(search: PocketSphinxSearch) throws {
        let engine = try PocketSphinxTranscriber(model: .english, search: search)
        var wer = WordErrorRate()
        var report: [String] = []
        for sentence in Speech.sentences {
            let text = try transcribe(try Speech.flite(sentence), with: engine).text
            wer.add(reference: sentence, hypothesis: text)
            report.append("\(sentence) -> \(text)")
        }
        #expect(wer.rate <= 0.10, "WER \(wer.rate) with flite \(Speech.fliteVoice), \(search):\n\(report.joined(separator: "\n"))")
    }

    /// The reset before each utterance (noise estimate, CMN vector, acoustic
    /// model history) makes an utterance decode exactly as on a fresh decoder:
    /// same words and same path score, whatever was decoded before it.
    @Test(arguments: PocketSphinxSearch.allCases)
    func sentenceDecodesExactlyTheSameWhateverCameBefore(search: PocketSphinxSearch) throws {
        let sentence = try Speech.goForward()
        let fresh = try PocketSphinxTranscriber(model: .english, search: search)
        let alone = try transcribe(sentence, with: fresh).text
        let aloneScore = fresh.lastScore

        let used = try PocketSphinxTranscriber(model: .english, search: search)
        _ = try transcribe(try Speech.flite(Speech.sentences[0]), with: used)
        _ = try transcribe(try Speech.flite(Speech.sentences[3]) + Speech.silence(seconds: 0.5), with: used)
        let after = try transcribe(sentence, with: used).text
        #expect(after == alone)
        #expect(used.lastScore == aloneScore, "score \(used.lastScore) after other speech, \(aloneScore) on a fresh decoder")

        _ = try transcribe(try Speech.flite("no no no stop it"), with: fresh)
        #expect(try transcribe(sentence, with: fresh).text == alone)
        #expect(fresh.lastScore == aloneScore)
    }

    @Test func startingAgainAbandonsTheOpenUtterance() throws {
        let engine = try PocketSphinxTranscriber(model: .english)
        try engine.start()
        let other = try Speech.flite("the cat sat on the mat")
        try other.withUnsafeBufferPointer { try engine.feed($0) }
        let result = try transcribe(try Speech.goForward(), with: engine)
        #expect(result.text == Speech.goForwardText)
    }

    @Test func silenceHasNoWords() throws {
        let engine = try PocketSphinxTranscriber(model: .english)
        #expect(try transcribe(Speech.silence(seconds: 2), with: engine).text == "")
        #expect(try engine.finish() == "", "finish without an utterance is empty, not an error")
    }

    @Test(arguments: [
        (PocketSphinxModel(hmm: "/nonexistent/en-us", lm: PocketSphinxModel.english.lm, dict: PocketSphinxModel.english.dict),
         "/nonexistent/en-us"),
        (PocketSphinxModel(hmm: PocketSphinxModel.english.hmm, lm: "/tmp/missing.lm.bin", dict: PocketSphinxModel.english.dict),
         "/tmp/missing.lm.bin"),
        (PocketSphinxModel(hmm: PocketSphinxModel.english.hmm, lm: PocketSphinxModel.english.lm, dict: "/tmp/missing.dict"),
         "/tmp/missing.dict"),
    ])
    func missingModelFileIsNamedAndExitsNoInput(model: PocketSphinxModel, path: String) throws {
        do {
            _ = try PocketSphinxTranscriber(model: model)
            Issue.record("loaded a model with a missing file")
        } catch {
            guard case .missingModelFile(let named, _) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(named == path)
            #expect(error.toolError.exit == .noInput)
            #expect(error.toolError.message.contains(path))
        }
    }
}
