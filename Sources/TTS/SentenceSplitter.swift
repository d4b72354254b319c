/// Cuts streamed text into sentences as soon as each one is complete, so the first can be spoken
/// while the rest of a reply is still arriving.
///
/// Feed it text deltas with `add(_:)`; it returns the sentences those deltas completed. A
/// sentence ends at
/// - `.`, `!`, `?` or `…` (and runs such as `?!` or `...`), with any closing quotes or brackets
///   after them, followed by whitespace; `。`, `！` and `？` need no whitespace after them;
/// - a line break (paragraphs and list items are sentences of their own);
/// - a clause break (`,` `;` `:` `—` and a space) once the sentence is `softLimit` characters long,
///   or the last space before `hardLimit` characters, so a run-on sentence is not held back forever.
///
/// A period does not end a sentence after a title (`Mr.`, `Dr.`, `St.`), after `e.g.`, `i.e.`,
/// `vs.` and their like, after an initial (`J. R. R. Tolkien`), or after a list number at the start
/// of a line (`1. First`); inside a number (`3.14`, `$3.50`) it has no space after it. After
/// `etc.`, `a.m.`, `U.S.`, an ellipsis (`Wait... what?`) or a `!`/`?` inside closing quotes
/// (`He shouted "Stop!" and ran.`) the next word decides: a lower-case word goes on with the sentence.
///
/// Decisions depend only on the text, never on how it was cut into deltas: when a decision needs
/// text that has not come yet, the splitter waits for it (or, at `finish()`, takes the end of the
/// text as the answer). Feeding a text in one piece or one character at a time gives the same
/// sentences. Sentences come back trimmed of surrounding whitespace; whitespace-only ones are dropped.
public struct SentenceSplitter: Sendable {
    /// A clause break ends a sentence at least this long (in Unicode scalars).
    public let softLimit: Int
    /// No sentence grows longer than this (in Unicode scalars): it is cut at its last space.
    public let hardLimit: Int

    private var pending: [Unicode.Scalar] = []
    /// `pending[..<scanned]` holds no sentence end.
    private var scanned = 0

    /// - Parameter maxLength: the hard limit; clause breaks end sentences from half of it.
    public init(maxLength: Int = 200) {
        precondition(maxLength >= 2, "maxLength must be at least 2")
        hardLimit = maxLength
        softLimit = maxLength / 2
    }

    /// True when no text is waiting to become a sentence.
    public var isEmpty: Bool { pending.allSatisfy(\.properties.isWhitespace) }

    /// The text received and not yet returned as sentences.
    public var remainder: String { Self.string(pending[...]) }

    /// Adds a text delta; returns the sentences it completed, in order.
    public mutating func add(_ text: String) -> [String] {
        pending.append(contentsOf: text.unicodeScalars)
        return split(final: false)
    }

    /// The end of the text: returns the sentences still pending, the last one unterminated
    /// perhaps, and leaves the splitter empty for the next text.
    public mutating func finish() -> [String] {
        let sentences = split(final: true)
        reset()
        return sentences
    }

    /// Drops everything pending (an interrupt).
    public mutating func reset() {
        pending.removeAll()
        scanned = 0
    }

    /// Splits a whole text at once.
    public static func sentences(in text: String, maxLength: Int = 200) -> [String] {
        var splitter = SentenceSplitter(maxLength: maxLength)
        return splitter.add(text) + splitter.finish()
    }

    // MARK: Scanning

    private enum Decision {
        /// The text does not say yet.
        case needMore
        /// A sentence ends just before `end`.
        case boundary(end: Int)
        /// No sentence end up to `next`.
        case goOn(next: Int)
    }

    private mutating func split(final: Bool) -> [String] {
        var sentences: [String] = []
        var i = scanned
        while i < pending.count {
            let decision: Decision
            let c = pending[i]
            if Self.isNewline(c) {
                decision = .boundary(end: i + 1)
            } else if Self.isTerminator(c) {
                decision = terminator(at: i, final: final)
            } else if Self.isClauseBreak(c) {
                decision = clauseBreak(at: i, final: final)
            } else {
                decision = .goOn(next: i + 1)
            }
            switch decision {
            case .needMore:
                scanned = i
                return sentences
            case .boundary(let end):
                emit(upTo: end, into: &sentences)
                i = 0
            case .goOn(let next):
                if let end = runOnCut(before: next) {
                    emit(upTo: end, into: &sentences)
                    i = 0
                } else {
                    i = next
                }
            }
        }
        scanned = i
        if final { emit(upTo: pending.count, into: &sentences) }
        return sentences
    }

    private mutating func emit(upTo end: Int, into sentences: inout [String]) {
        let sentence = Self.trimmed(pending[..<end])
        if !sentence.isEmpty { sentences.append(Self.string(sentence)) }
        pending.removeFirst(end)
        scanned = 0
    }

    /// Where the sentence starts: its first non-whitespace scalar.
    private var sentenceStart: Int {
        pending.firstIndex { !$0.properties.isWhitespace } ?? pending.count
    }

    /// A run of terminators at `i`, with the closing quotes and brackets after it.
    private func terminator(at i: Int, final: Bool) -> Decision {
        var j = i
        while j < pending.count, Self.isTerminator(pending[j]) { j += 1 }
        let run = pending[i..<j]
        let runEnd = j
        while j < pending.count, Self.isCloser(pending[j]) { j += 1 }
        guard j < pending.count else { return final ? .boundary(end: j) : .needMore }
        if run.contains(where: Self.isStrongTerminator) { return .boundary(end: j) }
        // "3.14", "e.g.x", "Hi!there": no space, no sentence end.
        guard pending[j].properties.isWhitespace else { return .goOn(next: j) }
        if run.contains(where: { $0 == "!" || $0 == "?" || $0 == "‼" || $0 == "⁇" }) {
            // A quoted exclamation inside a sentence: 'He shouted "Stop!" and ran.'
            return j > runEnd ? nextWordDecides(end: j, final: final) : .boundary(end: j)
        }
        if run.count > 1 || run.contains("…") { return nextWordDecides(end: j, final: final) }
        switch periodKind(at: i) {
        case .sentenceEnd: return .boundary(end: j)
        case .abbreviation: return .goOn(next: j)
        case .ambiguous: return nextWordDecides(end: j, final: final)
        }
    }

    /// After an ellipsis or an abbreviation that may end a sentence: a lower-case word goes on.
    private func nextWordDecides(end: Int, final: Bool) -> Decision {
        var k = end
        while k < pending.count, pending[k].properties.isWhitespace {
            if Self.isNewline(pending[k]) { return .boundary(end: end) }
            k += 1
        }
        guard k < pending.count else { return final ? .boundary(end: end) : .needMore }
        return pending[k].properties.isLowercase ? .goOn(next: end) : .boundary(end: end)
    }

    private enum PeriodKind { case sentenceEnd, abbreviation, ambiguous }

    /// What the word before the single period at `i` makes of it.
    private func periodKind(at i: Int) -> PeriodKind {
        var wordStart = i
        while wordStart > 0, !pending[wordStart - 1].properties.isWhitespace { wordStart -= 1 }
        while wordStart < i, Self.isOpener(pending[wordStart]) { wordStart += 1 }
        let word = pending[wordStart..<i]
        guard !word.isEmpty else { return .sentenceEnd }
        let atSentenceStart = wordStart == sentenceStart
            || pending[sentenceStart..<wordStart].allSatisfy { Self.isOpener($0) || $0.properties.isWhitespace }
        if word.count == 1, let letter = word.first, letter.properties.isAlphabetic {
            // An initial ("J. R. R. Tolkien"), or a lettered list item at the start ("a. First").
            if letter.properties.isUppercase || atSentenceStart { return .abbreviation }
        }
        if atSentenceStart, word.count <= 3, word.allSatisfy({ ("0"..."9").contains($0) }) {
            return .abbreviation  // "1. First"
        }
        let lower = Self.string(word).lowercased()
        if Self.neverEndAbbreviations.contains(lower) { return .abbreviation }
        if Self.mayEndAbbreviations.contains(lower) { return .ambiguous }
        // Dotted initials: "U.S", "a.m", "Ph.D"-like letter groups.
        let groups = word.split(separator: ".", omittingEmptySubsequences: false)
        if groups.count > 1, groups.allSatisfy({ $0.count == 1 && $0.first!.properties.isAlphabetic }) {
            return .ambiguous
        }
        return .sentenceEnd
    }

    /// A clause break at `i` ends a long sentence when whitespace follows it.
    private func clauseBreak(at i: Int, final: Bool) -> Decision {
        guard i + 1 - sentenceStart >= softLimit else { return .goOn(next: i + 1) }
        guard i + 1 < pending.count else { return final ? .boundary(end: i + 1) : .needMore }
        return pending[i + 1].properties.isWhitespace ? .boundary(end: i + 1) : .goOn(next: i + 1)
    }

    /// Where to cut a sentence that has reached the hard limit with `pending[..<next]` scanned.
    private func runOnCut(before next: Int) -> Int? {
        let start = sentenceStart
        guard next - start >= hardLimit else { return nil }
        // The last space, not counting one right at the start.
        if let space = pending[(start + 1)..<next].lastIndex(where: { $0.properties.isWhitespace }) {
            return space
        }
        return next  // one enormous word
    }

    // MARK: Characters

    /// Words whose period never ends a sentence: titles before names, and Latin and reference
    /// abbreviations that always have more after them.
    static let neverEndAbbreviations: Set<String> = [
        "mr", "mrs", "ms", "mx", "dr", "prof", "st", "sr", "jr", "mt", "capt", "col", "gen", "lt", "sgt",
        "cpl", "adm", "rev", "hon", "gov", "sen", "rep", "pres", "messrs", "mme", "mlle", "fr",
        "e.g", "i.e", "cf", "vs", "viz", "approx", "ca", "fig", "figs", "vol", "vols", "pp", "eq", "eqs",
    ]

    /// Words whose period ends a sentence only when a capitalised word follows.
    static let mayEndAbbreviations: Set<String> = [
        "etc", "al", "inc", "ltd", "co", "corp", "llc", "bros", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
        "sep", "sept", "oct", "nov", "dec", "mon", "tue", "tues", "wed", "thu", "thurs", "fri", "sat", "sun",
        "a.m", "p.m", "ph.d", "min", "sec", "hr", "hrs", "ave", "blvd", "rd", "ft", "oz", "lb", "lbs", "no", "nos",
        "incl", "esp", "dept", "ref", "ch",
    ]

    static func isTerminator(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case ".", "!", "?", "…", "‼", "⁇", "。", "！", "？": true
        default: false
        }
    }

    /// Terminators that end a sentence with no whitespace after them (CJK).
    static func isStrongTerminator(_ c: Unicode.Scalar) -> Bool {
        c == "。" || c == "！" || c == "？"
    }

    static func isCloser(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "\"", "'", ")", "]", "}", "”", "’", "»", "›", "」", "』", "）", "*", "_": true
        default: false
        }
    }

    static func isOpener(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "\"", "'", "(", "[", "{", "“", "‘", "«", "‹", "「", "『", "（", "*", "_": true
        default: false
        }
    }

    static func isClauseBreak(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case ",", ";", ":", "—", "–", "，", "；", "：": true
        default: false
        }
    }

    static func isNewline(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "\n", "\r", "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}": true
        default: false
        }
    }

    private static func trimmed(_ s: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
        guard let first = s.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = s.lastIndex(where: { !$0.properties.isWhitespace })
        else { return [] }
        return s[first...last]
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}
