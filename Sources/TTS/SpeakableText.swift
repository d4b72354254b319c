/// What an engine should be given for a sentence: the text without the markdown an LLM likes to
/// write (`**bold**`, `` `code` ``, `# heading`, `- bullet`, `> quote`), control characters or
/// runs of whitespace. nil when nothing speakable (no letter or digit) is left.
enum SpeakableText {
    static func prepare(_ sentence: String) -> String? {
        var scalars = String.UnicodeScalarView()
        var lastWasSpace = true
        for scalar in sentence.unicodeScalars {
            switch scalar {
            case "*", "`", "#", "~":
                continue
            case _ where scalar.properties.isWhitespace || scalar.properties.generalCategory == .control:
                if !lastWasSpace { scalars.append(" ") }
                lastWasSpace = true
            default:
                scalars.append(scalar)
                lastWasSpace = false
            }
        }
        var text = Substring(String(scalars))
        while text.last == " " { text = text.dropLast() }
        // A bullet or quote marker at the start.
        for marker in ["- ", "+ ", "> ", "• "] where text.hasPrefix(marker) {
            text = text.dropFirst(marker.count)
        }
        guard text.unicodeScalars.contains(where: { $0.properties.isAlphabetic || $0.properties.numericType != nil }) else {
            return nil
        }
        return String(text)
    }
}
