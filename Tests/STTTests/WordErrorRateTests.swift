import Testing

/// The measuring stick for the recognition tests must itself be right.
@Suite struct WordErrorRateTests {
    @Test func identicalTextIsZeroWhateverTheCaseAndPunctuation() {
        #expect(WordErrorRate.of(reference: "Go forward, ten meters.", hypothesis: "go forward ten meters") == 0)
    }

    @Test func substitutionInsertionAndDeletionEachCountOnce() {
        #expect(WordErrorRate.distance(["a", "b", "c"], ["a", "x", "c"]) == 1)
        #expect(WordErrorRate.distance(["a", "b"], ["a", "b", "c"]) == 1)
        #expect(WordErrorRate.distance(["a", "b", "c"], ["a", "c"]) == 1)
        #expect(WordErrorRate.of(reference: "how far is it to the station", hypothesis: "how far is up to the station") == 1.0 / 7)
    }

    @Test func emptyHypothesisIsAllDeletions() {
        #expect(WordErrorRate.of(reference: "one two three four", hypothesis: "") == 1)
    }

    @Test func ratesAddUpOverUtterances() {
        var wer = WordErrorRate()
        wer.add(reference: "a b c d", hypothesis: "a b c d")
        wer.add(reference: "e f g h i j", hypothesis: "e f x h i")
        #expect(wer.errors == 2 && wer.referenceWords == 10)
        #expect(wer.rate == 0.2)
    }
}
