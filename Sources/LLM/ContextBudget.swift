/// How much conversation a prompt may carry: the system text, the history and the new utterance
/// together, in characters or in estimated tokens (4 characters each). The oldest turns are dropped
/// first; the newest user turn is always kept.
public enum ContextBudget: Sendable, Equatable, CustomStringConvertible {
    case characters(Int)
    case tokens(Int)

    /// 8000 characters, about 2000 tokens: room for a dozen spoken exchanges, and well inside the
    /// local server's 4096-token context with the reply on top.
    public static let `default` = ContextBudget.characters(8000)

    /// Parses `8000` (characters), `8000c` or `2000t` (estimated tokens). Nil if it is not one.
    public init?(parsing text: String) {
        var digits = Substring(text.lowercased())
        var tokens = false
        for suffix in ["tokens", "token", "tok", "t"] where digits.hasSuffix(suffix) {
            digits = digits.dropLast(suffix.count)
            tokens = true
            break
        }
        if !tokens {
            for suffix in ["characters", "chars", "c"] where digits.hasSuffix(suffix) {
                digits = digits.dropLast(suffix.count)
                break
            }
        }
        guard let n = Int(digits), n > 0 else { return nil }
        self = tokens ? .tokens(n) : .characters(n)
    }

    /// The limit, in the budget's own unit.
    public var limit: Int {
        switch self {
        case .characters(let n), .tokens(let n): n
        }
    }

    /// What `text` costs: its characters, or an estimate of its tokens.
    public func cost(_ text: String) -> Int {
        switch self {
        case .characters: text.count
        case .tokens: (text.count + 3) / 4
        }
    }

    public var description: String {
        switch self {
        case .characters(let n): "\(n) characters"
        case .tokens(let n): "\(n) estimated tokens"
        }
    }

    /// The newest turns of `history` that fit beside `system`: drops the oldest first and always
    /// keeps the last turn (the utterance being answered), even if it alone is over the budget.
    public func fit(_ history: [Turn], beside system: String) -> ArraySlice<Turn> {
        guard !history.isEmpty else { return history[...] }
        var used = cost(system) + cost(history[history.count - 1].text)
        var start = history.count - 1
        while start > 0 {
            let next = used + cost(history[start - 1].text)
            if next > limit { break }
            used = next
            start -= 1
        }
        return history[start...]
    }
}
