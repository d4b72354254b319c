/// How the conversation is put to the model.
public enum PromptStyle: String, Sendable, CaseIterable {
    /// Chat messages (system, user, assistant): for instruction-tuned models and hosted APIs.
    case chat
    /// One text to continue ("User: …\nAssistant:"), with stop sequences: for base models,
    /// which are not tuned to chat and would otherwise ramble on past their turn.
    case completion
}

/// One chat message, as OpenAI and Anthropic take them.
public struct ChatMessage: Sendable, Equatable {
    public var role: Turn.Role
    public var content: String

    public init(_ role: Turn.Role, _ content: String) {
        self.role = role
        self.content = content
    }
}

/// What is sent to the model for one reply.
public enum Prompt: Sendable, Equatable {
    case chat(system: String, messages: [ChatMessage])
    case completion(text: String, stop: [String])
}

/// Turns the history into a prompt: the newest turns that fit the budget, in the chosen style.
public struct PromptBuilder: Sendable {
    public var style: PromptStyle
    public var system: String
    public var budget: ContextBudget

    public init(style: PromptStyle, system: String? = nil, budget: ContextBudget = .default) {
        self.style = style
        self.system = system ?? Self.defaultSystem(for: style)
        self.budget = budget
    }

    /// The default system text. Replies are spoken, so they should be short and plain.
    public static func defaultSystem(for style: PromptStyle) -> String {
        switch style {
        case .chat:
            "You are vx, a helpful voice assistant. Your replies are spoken aloud: answer in one to three short "
                + "sentences of plain text, without lists, markdown or emoji."
        case .completion:
            "A conversation with vx, a helpful voice assistant. vx answers each question correctly, in one short sentence.\n\n"
                + "User: Hello, who are you?\nAssistant: I'm vx, your voice assistant.\n"
                + "User: What is two plus two?\nAssistant: Two plus two is four."
        }
    }

    /// Where a base model's turn ends.
    public static let completionStops = ["\n\n", "\nUser:", "\nAssistant:"]

    /// The prompt answering the last turn of `history` (the user's utterance).
    public func prompt(for history: [Turn]) -> Prompt {
        let turns = budget.fit(history, beside: system)
        switch style {
        case .chat:
            return .chat(system: system, messages: Self.messages(turns))
        case .completion:
            var text = system.isEmpty ? "" : system + "\n"
            for turn in turns {
                var line = Self.oneLine(turn.text)
                if turn.role == .assistant {
                    if line.isEmpty { continue }
                    if turn.interrupted { line += "…" }
                }
                text += (turn.role == .user ? "User: " : "Assistant: ") + line + "\n"
            }
            return .completion(text: text + "Assistant:", stop: Self.completionStops)
        }
    }

    /// Chat messages for `turns`: empty replies left out, interrupted ones marked, consecutive
    /// turns of one role joined (a user turn whose reply failed, then the next), and starting with
    /// the user (Anthropic requires it).
    static func messages(_ turns: ArraySlice<Turn>) -> [ChatMessage] {
        var messages: [ChatMessage] = []
        for turn in turns {
            var content = turn.text
            if turn.role == .assistant {
                if content.isEmpty { continue }
                if turn.interrupted { content += " [interrupted]" }
            }
            if messages.last?.role == turn.role {
                messages[messages.count - 1].content += "\n" + content
            } else if !(messages.isEmpty && turn.role == .assistant) {
                messages.append(ChatMessage(turn.role, content))
            }
        }
        return messages
    }

    /// The text on one line: a turn's own line breaks would read as the end of its turn.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimming(" \t") }.filter { !$0.isEmpty }
            .joined(separator: " ")
    }
}

extension StringProtocol {
    func trimming(_ set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
