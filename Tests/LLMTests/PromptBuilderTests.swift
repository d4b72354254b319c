import Testing
import VXNet
import VXShared
@testable import LLM

struct PromptBuilderTests {
    let history: [Turn] = [
        .user("What is the capital of France?"), .assistant("Paris."),
        .user("And of\nItaly?"), .assistant("Ro", interrupted: true), .user("Rome, you mean?"),
    ]

    @Test func completionPromptIsAConversationToContinueWithStops() {
        let prompt = PromptBuilder(style: .completion, system: "A helpful assistant.").prompt(for: history)
        #expect(prompt == .completion(text: """
            A helpful assistant.
            User: What is the capital of France?
            Assistant: Paris.
            User: And of Italy?
            Assistant: Ro…
            User: Rome, you mean?
            Assistant:
            """, stop: ["\n\n", "\nUser:", "\nAssistant:"]))
    }

    @Test func chatPromptMarksInterruptedRepliesAndJoinsTurnsOfOneRole() {
        let turns: [Turn] = [.assistant("Hello!"), .user("Hi"), .user("are you there?"), .assistant(""), .user("hello?"),
                             .assistant("Yes, I'm he", interrupted: true), .user("Good")]
        let prompt = PromptBuilder(style: .chat, system: "S").prompt(for: turns)
        #expect(prompt == .chat(system: "S", messages: [
            ChatMessage(.user, "Hi\nare you there?\nhello?"),
            ChatMessage(.assistant, "Yes, I'm he [interrupted]"),
            ChatMessage(.user, "Good"),
        ]), "starts with the user, empty replies left out")
    }

    @Test(arguments: [
        ("8000", ContextBudget.characters(8000)), ("8000c", .characters(8000)), ("2000t", .tokens(2000)),
        ("2000tokens", .tokens(2000)), ("120chars", .characters(120)),
    ])
    func budgetParses(text: String, budget: ContextBudget) {
        #expect(ContextBudget(parsing: text) == budget)
    }

    @Test(arguments: ["", "0", "-5", "12x", "t", "1.5t"])
    func budgetRefuses(text: String) {
        #expect(ContextBudget(parsing: text) == nil)
    }

    @Test func budgetDropsTheOldestTurnsFirstAndKeepsTheNewest() {
        let turns: [Turn] = [.user("aaaaaaaaaa"), .assistant("bbbbbbbbbb"), .user("cccccccccc"), .assistant("dddddddddd"),
                             .user("eeeeeeeeee")]
        #expect(ContextBudget.characters(30).fit(turns, beside: "sys") == turns[3...], "3 + 10 + 10 fit, the next 10 not")
        #expect(ContextBudget.characters(5).fit(turns, beside: "sys") == turns[4...], "the utterance stays even over budget")
        #expect(ContextBudget.tokens(10).fit(turns, beside: "sys") == turns[2...], "1 + 3 + 3 + 3 tokens fit, 3 more not")
    }
}

struct BackendRequestTests {
    let settings = GenerationSettings(maxTokens: 64, temperature: 0.7, extra: ["repeat_penalty": 1.1])
    let timeouts = HTTPTimeouts()

    func body(_ request: HTTPRequest) throws -> JSONValue {
        guard case .bytes(let bytes) = request.body else { throw LLMError.unsupportedPrompt("no body") }
        return try JSONValue.parse(bytes)
    }

    @Test func completionPromptGoesToV1CompletionsWithStopsAndExtras() throws {
        let backend = OpenAIBackend(name: "local", baseURL: "http://127.0.0.1:8080/v1/", model: "gemma", apiKey: nil,
                                    settings: settings, timeouts: timeouts)
        let request = try backend.request(for: .completion(text: "User: hi\nAssistant:", stop: ["\n\n"]))
        #expect(request.url == "http://127.0.0.1:8080/v1/completions")
        #expect(request.headers["Authorization"] == nil)
        #expect(try body(request) == [
            "model": "gemma", "prompt": "User: hi\nAssistant:", "stop": ["\n\n"], "stream": true, "max_tokens": 64,
            "temperature": 0.7, "repeat_penalty": 1.1,
        ])
    }

    @Test func openAIItselfGetsMaxCompletionTokensAndTheKey() throws {
        let backend = OpenAIBackend(baseURL: "https://api.openai.com", model: "gpt-4o-mini", apiKey: Secret("sk-1"),
                                    settings: GenerationSettings(maxTokens: 300), timeouts: timeouts)
        let request = try backend.request(for: .chat(system: "S", messages: [ChatMessage(.user, "hi")]))
        #expect(request.url == "https://api.openai.com/v1/chat/completions")
        #expect(request.headers["Authorization"] == "Bearer sk-1")
        #expect(try body(request) == [
            "model": "gpt-4o-mini", "stream": true, "max_completion_tokens": 300,
            "messages": [["role": "system", "content": "S"], ["role": "user", "content": "hi"]],
        ])
    }

    @Test func anthropicRequestHasVersionKeyAndSystemApart() throws {
        let backend = AnthropicBackend(model: "claude-haiku-4-5", apiKey: Secret("sk-ant"), settings: GenerationSettings(maxTokens: 300),
                                       timeouts: timeouts)
        let request = try backend.request(for: .chat(system: "S", messages: [ChatMessage(.user, "hi")]))
        #expect(request.url == "https://api.anthropic.com/v1/messages")
        #expect(request.headers["anthropic-version"] == "2023-06-01")
        #expect(request.headers["x-api-key"] == "sk-ant")
        #expect(try body(request) == [
            "model": "claude-haiku-4-5", "stream": true, "max_tokens": 300, "system": "S",
            "messages": [["role": "user", "content": "hi"]],
        ])
        #expect(throws: LLMError.self) { try backend.request(for: .completion(text: "x", stop: [])) }
    }
}
