import Testing
import VXNet
@testable import LLM

/// The wire formats, fed through VXNet's SSEParser split at every byte.
struct StreamDecoderTests {
    /// Everything a stream decodes to when its bytes arrive in two pieces cut at `split`.
    static func decode(_ stream: String, split: Int, with decoder: some ReplyStreamDecoder) throws -> [StreamItem] {
        var decoder = decoder
        var parser = SSEParser()
        let bytes = Array(stream.utf8)
        var items: [StreamItem] = []
        for piece in [bytes[..<split], bytes[split...]] {
            for event in try parser.feed(piece) { items += try decoder.decode(event) }
        }
        return items
    }

    /// The text and end markers among `items`, ignoring what carries neither.
    static func meaning(_ items: [StreamItem]) -> [StreamItem] {
        items.filter { if case .ignored = $0 { false } else { true } }
    }

    static let openAIChat = """
        data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

        : keep-alive

        data: {"choices":[{"index":0,"delta":{"content":"Café "},"finish_reason":null}]}\r
        \r
        data: {"choices":[{"index":0,"delta":{"content":"au lait ☕"},"finish_reason":null}]}

        data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}

        data: [DONE]


        """

    @Test func openAIChatStreamSplitAnywhereGivesTheSameDeltas() throws {
        let expected: [StreamItem] = [.delta("Café "), .delta("au lait ☕"), .end, .end]
        for split in 0...Self.openAIChat.utf8.count {
            let items = try Self.decode(Self.openAIChat, split: split, with: OpenAIStreamDecoder())
            #expect(Self.meaning(items) == expected, "split at byte \(split)")
        }
    }

    @Test func openAICompletionChunksCarryTextInsteadOfDelta() throws {
        let stream = """
            data: {"id":"cmpl-1","object":"text_completion","choices":[{"text":" Paris","index":0,"logprobs":null,"finish_reason":null}]}

            data: {"id":"cmpl-1","object":"text_completion","choices":[{"text":".","index":0,"logprobs":null,"finish_reason":"stop"}]}

            data: [DONE]


            """
        let items = try Self.decode(stream, split: 0, with: OpenAIStreamDecoder())
        #expect(Self.meaning(items) == [.delta(" Paris"), .delta("."), .end, .end])
    }

    @Test func anOpenAIErrorChunkIsThrownWithItsMessage() throws {
        var decoder = OpenAIStreamDecoder()
        #expect(throws: LLMError.backendError("model overloaded")) {
            try decoder.decode(SSEEvent(data: #"{"error":{"message":"model overloaded","type":"server_error"}}"#))
        }
    }

    @Test func garbageIsIgnoredWithAReasonWhileUnknownShapesAreIgnoredSilently() throws {
        var decoder = OpenAIStreamDecoder()
        guard case .ignored(let problem?) = try decoder.decode(SSEEvent(data: "not json at all")).first else {
            Issue.record("garbage should be ignored with a reason")
            return
        }
        #expect(problem.contains("not JSON"))
        #expect(try decoder.decode(SSEEvent(data: #"{"usage":{"total_tokens":5}}"#)) == [.ignored(problem: nil)])
        #expect(try decoder.decode(SSEEvent(data: "[1,2]")) == [.ignored(problem: "an event that is a JSON value that is not an object")])
    }

    static let anthropic = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-haiku-4-5","stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

        event: ping
        data: {"type": "ping"}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Bonjour, "}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ça va ?"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":0}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":6}}

        event: message_stop
        data: {"type":"message_stop"}


        """

    @Test func anthropicStreamSplitAnywhereGivesTheSameDeltas() throws {
        for split in 0...Self.anthropic.utf8.count {
            let items = try Self.decode(Self.anthropic, split: split, with: AnthropicStreamDecoder())
            #expect(Self.meaning(items) == [.delta("Bonjour, "), .delta("ça va ?"), .end], "split at byte \(split)")
        }
    }

    @Test func anthropicErrorEventIsThrownWithItsTypeAndMessage() throws {
        var decoder = AnthropicStreamDecoder()
        #expect(throws: LLMError.backendError("overloaded_error: Overloaded")) {
            try decoder.decode(SSEEvent(type: "error", data: #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#))
        }
    }

    @Test func anthropicThinkingAndToolDeltasAreNotReplyText() throws {
        var decoder = AnthropicStreamDecoder()
        let thinking = #"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}"#
        #expect(try decoder.decode(SSEEvent(type: "content_block_delta", data: thinking)) == [.ignored(problem: nil)])
        let json = #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\""}}"#
        #expect(try decoder.decode(SSEEvent(type: "content_block_delta", data: json)) == [.ignored(problem: nil)])
    }
}
