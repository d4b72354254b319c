/// Word error rate: word-level edit distance (substitutions, insertions,
/// deletions) over the number of reference words. Case and punctuation are ignored.
struct WordErrorRate {
    var errors = 0
    var referenceWords = 0

    var rate: Double { referenceWords == 0 ? (errors == 0 ? 0 : 1) : Double(errors) / Double(referenceWords) }

    /// Adds one utterance.
    mutating func add(reference: String, hypothesis: String) {
        let r = Self.words(reference), h = Self.words(hypothesis)
        errors += Self.distance(r, h)
        referenceWords += r.count
    }

    static func of(reference: String, hypothesis: String) -> Double {
        var wer = WordErrorRate()
        wer.add(reference: reference, hypothesis: hypothesis)
        return wer.rate
    }

    /// Lowercased words, punctuation dropped (apostrophes kept: "don't").
    static func words(_ text: String) -> [String] {
        let kept = text.lowercased().map { (c: Character) -> Character in c.isLetter || c.isNumber || c == "'" ? c : " " }
        return String(kept).split(separator: " ").map(String.init)
    }

    /// Levenshtein distance between two word sequences.
    static func distance(_ a: [String], _ b: [String]) -> Int {
        var previous = Array(0...b.count)
        for (i, word) in a.enumerated() {
            var current = [i + 1] + [Int](repeating: 0, count: b.count)
            for j in b.indices {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (word == b[j] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
