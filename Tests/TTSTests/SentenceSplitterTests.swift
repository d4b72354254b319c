import Testing
@testable import TTS

struct SentenceSplitterTests {
    /// Texts and the sentences they hold: every hard case the splitter knows.
    static let cases: [(text: String, sentences: [String])] = [
        ("Hello there. How are you?", ["Hello there.", "How are you?"]),
        ("Mr. Smith met Dr. Jones on St. Patrick's Day. They talked.",
         ["Mr. Smith met Dr. Jones on St. Patrick's Day.", "They talked."]),
        ("Bring fruit, e.g. apples, i.e. something sweet. Then rest.",
         ["Bring fruit, e.g. apples, i.e. something sweet.", "Then rest."]),
        ("Pi is about 3.14 today. It costs $3.50 in total. Done.",
         ["Pi is about 3.14 today.", "It costs $3.50 in total.", "Done."]),
        ("Wait... what? I waited... Then he came.", ["Wait... what?", "I waited...", "Then he came."]),
        ("Well… fine. Okay.", ["Well… fine.", "Okay."]),
        ("1. First step.\n2. Second step.", ["1. First step.", "2. Second step."]),
        ("12. Twelfth item is long. Next.", ["12. Twelfth item is long.", "Next."]),
        ("The answer is 42. That is all.", ["The answer is 42.", "That is all."]),
        ("J. R. R. Tolkien wrote it. George W. Bush read it.", ["J. R. R. Tolkien wrote it.", "George W. Bush read it."]),
        ("She said \"Stop.\" Then she left.", ["She said \"Stop.\"", "Then she left."]),
        ("(See the note.) Next one.", ["(See the note.)", "Next one."]),
        ("It said ‘go!’ and we went. ", ["It said ‘go!’ and we went."]),
        ("Really?! Yes!! No?", ["Really?!", "Yes!!", "No?"]),
        ("First line\nSecond line\n\nNew paragraph", ["First line", "Second line", "New paragraph"]),
        ("Apples, pears, etc. are fruit. We like fruit etc. They are good.",
         ["Apples, pears, etc. are fruit.", "We like fruit etc.", "They are good."]),
        ("I live in the U.S. It is big. The U.S. economy grows.",
         ["I live in the U.S.", "It is big.", "The U.S. economy grows."]),
        ("Meet at 5 p.m. tomorrow. Bring snacks.", ["Meet at 5 p.m. tomorrow.", "Bring snacks."]),
        ("No. I don't think so.", ["No.", "I don't think so."]),
        ("Version 2.0.1 is out. Update now.", ["Version 2.0.1 is out.", "Update now."]),
        ("你好。再见！", ["你好。", "再见！"]),
        ("  \n  ", []),
        ("No terminator at the end", ["No terminator at the end"]),
        ("**Done.** Next **step.**", ["**Done.**", "Next **step.**"]),
    ]

    @Test(arguments: cases.indices)
    func splitsWholeText(index: Int) {
        let (text, expected) = Self.cases[index]
        #expect(SentenceSplitter.sentences(in: text) == expected)
    }

    /// Any way of cutting the text into deltas gives the same sentences.
    @Test(arguments: cases.indices)
    func deltasSplitAtEveryPositionGiveTheSameSentences(index: Int) {
        let (text, expected) = Self.cases[index]
        let characters = Array(text)
        for cut in 0...characters.count {
            var splitter = SentenceSplitter()
            var got = splitter.add(String(characters[..<cut]))
            got += splitter.add(String(characters[cut...]))
            got += splitter.finish()
            #expect(got == expected, "cut at \(cut)")
        }
        var splitter = SentenceSplitter()
        var got: [String] = []
        for scalar in text.unicodeScalars { got += splitter.add(String(scalar)) }
        got += splitter.finish()
        #expect(got == expected, "one scalar at a time")
    }

    @Test func aSentenceIsReturnedAsSoonAsTheTextAfterItSettlesIt() {
        var splitter = SentenceSplitter()
        #expect(splitter.add("Hello there") == [])
        #expect(splitter.add(".") == [])  // "there.5" or "there. and" could still follow
        #expect(splitter.add(" How") == ["Hello there."])
        #expect(splitter.add(" are you?") == [])
        #expect(splitter.add(" Fine") == ["How are you?"])
        #expect(splitter.finish() == ["Fine"])
        #expect(splitter.isEmpty)
    }

    @Test func ellipsisWaitsForTheNextWord() {
        var splitter = SentenceSplitter()
        #expect(splitter.add("Wait... ") == [])
        #expect(splitter.add("what?") == [])
        #expect(splitter.add(" OK") == ["Wait... what?"])
    }

    @Test func titleNeverWaitsForMore() {
        var splitter = SentenceSplitter()
        #expect(splitter.add("Ask Dr. ") == [])
        #expect(splitter.remainder == "Ask Dr. ")
        #expect(splitter.add("Who.\n") == ["Ask Dr. Who."])
    }

    @Test func runOnIsCutAtAClauseBreakOnceLongEnough() {
        // 40-scalar limit: clause breaks end sentences from 20 scalars on.
        let text = "one, two, three and four and five, six seven eight nine ten eleven twelve thirteen fourteen"
        let sentences = SentenceSplitter.sentences(in: text, maxLength: 40)
        #expect(sentences == ["one, two, three and four and five,", "six seven eight nine ten eleven twelve", "thirteen fourteen"])
        #expect(sentences.allSatisfy { $0.unicodeScalars.count <= 40 })
    }

    @Test func runOnWithoutPunctuationIsCutAtTheLastSpace() {
        let words = (1...60).map { "word\($0)" }.joined(separator: " ")
        let sentences = SentenceSplitter.sentences(in: words, maxLength: 50)
        #expect(sentences.count > 1)
        #expect(sentences.allSatisfy { $0.unicodeScalars.count <= 50 })
        #expect(sentences.joined(separator: " ") == words)
        // Cut deltas the same way: one character at a time.
        var splitter = SentenceSplitter(maxLength: 50)
        var got: [String] = []
        for c in words { got += splitter.add(String(c)) }
        #expect(got + splitter.finish() == sentences)
    }

    @Test func runOnSentenceComesOutBeforeTheTextEnds() {
        var splitter = SentenceSplitter(maxLength: 40)
        let first = splitter.add("this goes on and on without any stop at all and more")
        #expect(first.count == 1)
        #expect(first[0].hasPrefix("this goes on"))
    }

    @Test func oneEnormousWordIsCutAtTheLimit() {
        let word = String(repeating: "a", count: 25)
        #expect(SentenceSplitter.sentences(in: word, maxLength: 10) == ["aaaaaaaaaa", "aaaaaaaaaa", "aaaaa"])
    }

    @Test func resetDropsPendingText() {
        var splitter = SentenceSplitter()
        _ = splitter.add("Half a sent")
        splitter.reset()
        #expect(splitter.isEmpty)
        #expect(splitter.add("New one. Next") == ["New one."])
    }
}
