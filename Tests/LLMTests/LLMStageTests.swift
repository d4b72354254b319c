import Foundation
import Synchronization
import Testing
import VXNet
import VXShared
@testable import LLM

/// The stage in this process, against real HTTP servers on 127.0.0.1 (the scripted fixture server,
/// or a server that hangs mid-stream).
struct LLMStageTests {
    @Test func openAIStreamCutAtAwkwardPlacesGivesTheWholeReplyAfterTheTranscript() throws {
        let server = try FakeEngineServer([FakeEngineServer.sse([
            "da", #"ta: {"choices":[{"delta":{"role":"assistant"}}]}"# + "\r\n\r",
            "\n" + #"data: {"choices":[{"delta":{"cont"#, #"ent":"Par"}}]}"# + "\n",
            "\n: keep-alive\n\n" + #"data: {"choices":[{"delta":{"content":"is, of course."},"finish_reason":"stop"}]}"# + "\n\nda",
            "ta: [DONE]\n\n",
        ], delay: 0.02)])
        let stage = StageHarness(backend: openAI(server.baseURL))
        stage.input.push(Event(EventType.ping, ["text": "before"]))
        stage.say("What is the capital of France?")
        stage.input.push(Event(EventType.ping, ["text": "after"]))
        let events = try stage.finish()

        #expect(events.chunks == ["Par", "is, of course."])
        let reply = try #require(events.replies.first)
        #expect(reply["text"] == "Paris, of course.")
        #expect(reply["interrupted"] == false && reply["error"] == nil && reply["backend"] == "openai" && reply["model"] == "test-model")
        #expect(reply["id"] == events.of(EventType.replyChunk).first?["id"])
        let types = events.types
        #expect(types.first == "ping" && types[1] == "transcript", "forwarded in order: \(types)")
        #expect(types.firstIndex(of: "reply-chunk")! > types.firstIndex(of: "transcript")!)
        #expect(types.last == "reply" && types.filter { $0 == "ping" }.count == 2)

        let request = try #require(try server.requests().first)
        #expect(request.path == "/v1/chat/completions")
        #expect(request.json?["stream"] == true)
        #expect(request.json?["messages"] == [["role": "system", "content": "Be brief."],
                                              ["role": "user", "content": "What is the capital of France?"]])
    }

    @Test func anthropicStreamGivesTheReplyAndSendsVersionAndKey() throws {
        func event(_ name: String, _ data: String) -> String { "event: \(name)\ndata: \(data)\n\n" }
        let server = try FakeEngineServer([FakeEngineServer.sse([
            event("message_start", #"{"type":"message_start","message":{"id":"m","role":"assistant","content":[]}}"#),
            event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
            event("ping", #"{"type":"ping"}"#),
            event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#),
            event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there."}}"#),
            event("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#),
            event("message_stop", #"{"type":"message_stop"}"#),
        ])])
        let backend = AnthropicBackend(baseURL: server.baseURL, model: "claude-test", apiKey: Secret("sk-ant-test"),
                                       settings: GenerationSettings(maxTokens: 100), timeouts: HTTPTimeouts())
        let stage = StageHarness(backend: backend)
        stage.say("Hi")
        let events = try stage.finish()

        #expect(events.chunks == ["Hello", " there."])
        #expect(events.replies.first?["text"] == "Hello there.")
        #expect(events.replies.first?["backend"] == "anthropic")
        let request = try #require(try server.requests().first)
        #expect(request.path == "/v1/messages")
        #expect(request.headers["anthropic-version"] == "2023-06-01")
        #expect(request.headers["x-api-key"] == "sk-ant-test")
        #expect(request.json?["system"] == "Be brief.")
        #expect(request.json?["messages"] == [["role": "user", "content": "Hi"]])
    }

    @Test func anthropicErrorEventBeforeAnyTextGivesTheApologyAndAnError() throws {
        let server = try FakeEngineServer([FakeEngineServer.sse([
            "event: error\n" + #"data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"# + "\n\n",
        ])])
        let backend = AnthropicBackend(baseURL: server.baseURL, model: "claude-test", apiKey: nil,
                                       settings: GenerationSettings(maxTokens: 100), timeouts: HTTPTimeouts())
        let stage = StageHarness(backend: backend, apology: "I can't think right now.")
        stage.say("Hi")
        let events = try stage.finish()

        #expect(events.types == ["transcript", "reply-chunk", "reply", "error"])
        #expect(events.chunks == ["I can't think right now."])
        #expect(events.replies.first?["error"] == true && events.replies.first?["text"] == "I can't think right now.")
        let error = try #require(events.of("error").first)
        #expect(error["code"] == "llm-unavailable")
        #expect(error["text"]?.string?.contains("overloaded_error: Overloaded") == true)
    }

    @Test func midStreamDisconnectKeepsWhatCameAndReportsTheReplyIncomplete() throws {
        // Two pieces, then the server closes the connection: no finish reason, no [DONE].
        let server = try FakeEngineServer([FakeEngineServer.sse([
            #"data: {"choices":[{"delta":{"content":"The answer"}}]}"# + "\n\n",
            #"data: {"choices":[{"delta":{"content":" is 4"}}]}"# + "\n\n",
        ])])
        let stage = StageHarness(backend: openAI(server.baseURL))
        stage.say("What is two plus two?")
        let events = try stage.finish()

        #expect(events.chunks == ["The answer", " is 4"], "no apology after text")
        let reply = try #require(events.replies.first)
        #expect(reply["text"] == "The answer is 4" && reply["error"] == true && reply["interrupted"] == false)
        let error = try #require(events.of("error").first)
        #expect(error["code"] == "llm-incomplete")
        #expect(error["text"]?.string?.contains("[DONE]") == true)
        #expect(try server.requests().count == 1, "a reply that started is not retried")
        #expect(stage.conversation.turns.last == .assistant("The answer is 4", id: reply["id"]?.string))
    }

    @Test func tooManyRequestsIsRetriedAfterItsRetryAfter() throws {
        let server = try FakeEngineServer([["status": 429, "headers": ["Retry-After": "3"], "body": "slow down"],
                                           FakeEngineServer.openAIChat(["Fine."])])
        let stage = StageHarness(backend: openAI(server.baseURL))
        stage.say("Hello?")
        let events = try stage.finish()

        #expect(events.replies.first?["text"] == "Fine.")
        #expect(events.of("error").isEmpty)
        #expect(try server.requests().count == 2)
        #expect(stage.clock.sleeps == [.seconds(3)], "waited what Retry-After said, not its own backoff")
        #expect(stage.logs.all.contains { $0.hasPrefix("warning request failed; retrying") && $0.contains("HTTP 429") })
    }

    @Test func serverErrorIsRetriedWithBackoffThenAnswered() throws {
        let server = try FakeEngineServer([["status": 500, "body": "oops"], ["status": 503],
                                           FakeEngineServer.openAIChat(["Here ", "I am."])])
        let stage = StageHarness(backend: openAI(server.baseURL))
        stage.say("Anyone there?")
        let events = try stage.finish()

        #expect(events.replies.first?["text"] == "Here I am.")
        #expect(try server.requests().count == 3)
        #expect(stage.clock.sleeps == [.milliseconds(250), .milliseconds(500)])
    }

    @Test func slowFirstByteBeyondTheTimeoutGivesTheApologyAndAnError() throws {
        let server = try FakeEngineServer([["sleep": 3, "status": 200, "body": "late"]])
        let stage = StageHarness(backend: openAI(server.baseURL, timeout: .milliseconds(400)), retries: 0)
        stage.say("Are you awake?")
        let events = try stage.finish()

        #expect(events.types == ["transcript", "reply-chunk", "reply", "error"])
        #expect(events.chunks == ["Sorry."])
        let error = try #require(events.of("error").first)
        #expect(error["code"] == "llm-unavailable")
        #expect(error["text"]?.string?.contains("timed out waiting for a response") == true, "\(error)")
    }

    @Test func garbageLinesAreSkippedAndLoggedAndTheReplyStillComes() throws {
        let server = try FakeEngineServer([FakeEngineServer.sse([
            "data: this is not json\n\n",
            "retry: soon\nnonsense without a colon\nevent: surprise\n\n",
            #"data: {"choices":[{"delta":{"content":"Still "}}]}"# + "\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\n\n",
            #"data: {"choices":[{"delta":{"content":"here."},"finish_reason":"stop"}]}"# + "\n\ndata: [DONE]\n\n",
        ])])
        let stage = StageHarness(backend: openAI(server.baseURL))
        stage.say("Status?")
        let events = try stage.finish()

        #expect(events.replies.first?["text"] == "Still here.")
        #expect(events.replies.first?["error"] == nil && events.of("error").isEmpty)
        let skipped = stage.logs.all.filter { $0.hasPrefix("warning skipped an unreadable event") }
        #expect(skipped.count == 2, "\(skipped)")
        #expect(skipped.first?.contains("this is not json") == true)
    }

    @Test func breakerOpensAfterRepeatedFailuresAndLaterTurnsFailAtOnce() throws {
        let server = try FakeEngineServer([], fallback: ["status": 500, "body": "down"])
        let stage = StageHarness(backend: openAI(server.baseURL), retries: 1, breakerFailures: 2)
        stage.say("one")
        stage.waitForReplies(1)
        #expect(try server.requests().count == 2, "one turn, two attempts: the breaker opens")
        for (n, text) in ["two", "three"].enumerated() {
            stage.say(text)
            stage.waitForReplies(n + 2)
        }
        let events = try stage.finish()

        #expect(try server.requests().count == 2, "later turns never reach the server")
        #expect(events.replies.count == 3)
        #expect(events.replies.allSatisfy { $0["error"] == true && $0["text"] == "Sorry." })
        let errors = events.of("error").compactMap { $0["text"]?.string }
        #expect(errors.count == 3 && errors.dropFirst().allSatisfy { $0.contains("circuit 'openai' is open") }, "\(errors)")
        if case .open = stage.breaker.state {} else { Issue.record("the breaker should be open: \(stage.breaker.state)") }
    }

    @Test func contextBudgetDropsTheOldestTurnsFromTheRequest() throws {
        let server = try FakeEngineServer([FakeEngineServer.openAIChat(["A1"]), FakeEngineServer.openAIChat(["B2"]),
                                           FakeEngineServer.openAIChat(["C3"])])
        // 9 (system) + 23 (charlie) + 2 + 23 (bravo) + 2 = 59 fit in 60; alpha (23) does not.
        let stage = StageHarness(backend: openAI(server.baseURL), budget: .characters(60))
        for (n, text) in ["alpha alpha alpha alpha", "bravo bravo bravo bravo", "charlie charlie charlie"].enumerated() {
            stage.say(text)
            stage.waitForReplies(n + 1)
        }
        _ = try stage.finish()

        let requests = try server.requests()
        try #require(requests.count == 3)
        #expect(requests[0].json?["messages"] == [["role": "system", "content": "Be brief."],
                                                  ["role": "user", "content": "alpha alpha alpha alpha"]])
        #expect(requests[2].json?["messages"] == [
            ["role": "system", "content": "Be brief."],
            ["role": "user", "content": "bravo bravo bravo bravo"], ["role": "assistant", "content": "B2"],
            ["role": "user", "content": "charlie charlie charlie"],
        ], "alpha dropped, and A1 with it (a chat starts with the user)")
    }

    @Test func interruptMidStreamCancelsTheRequestAndNoChunkFollowsIt() throws {
        let server = try HangingServer(firstChunk: #"data: {"choices":[{"delta":{"content":"Once upon"}}]}"# + "\n\n")
        let stage = StageHarness(backend: openAI(server.baseURL, timeout: .seconds(60)), breakerFailures: 1)
        stage.say("Tell me a long story.")
        stage.output.wait { $0.types.contains("reply-chunk") }
        stage.input.push(Event(EventType.interrupt, ["reason": "voice"]))
        let replies = stage.waitForReplies(1, seconds: 10)
        #expect(server.waitForClose(seconds: 10), "the server saw the connection close")
        stage.say("Stop.")
        stage.input.push(Event(EventType.interrupt, ["reason": "voice"]))  // after a reply: nothing to cancel
        let events = try stage.finish()

        #expect(replies.types == ["transcript", "reply-chunk", "interrupt", "reply"])
        let reply = try #require(events.replies.first)
        #expect(reply["interrupted"] == true && reply["text"] == "Once upon" && reply["error"] == nil)
        #expect(stage.breaker.state == .closed, "a barge-in is not a backend failure")
        #expect(stage.conversation.turns.prefix(2) == [.user("Tell me a long story."),
                                                        .assistant("Once upon", interrupted: true, id: reply["id"]?.string)])
    }

    @Test func noReplyChunkFollowsAForwardedInterruptEvenWithTextAlreadyReceived() throws {
        // 300 pieces in one burst: after the interrupt, the worker still has received text in hand.
        let pieces = (0..<300).map { #"data: {"choices":[{"delta":{"content":"w\#($0) "}}]}"# + "\n\n" }
        let server = try FakeEngineServer([["sse": [pieces.joined()]]])
        let stage = StageHarness(backend: openAI(server.baseURL))
        let input = stage.input
        let interrupted = Mutex(false)
        stage.output.onEvent = { event in
            // Barge in while the first chunk is being written, then give the reader time to wait for the lock.
            guard event.type == EventType.replyChunk, !interrupted.withLock({ $0 }) else { return }
            interrupted.withLock { $0 = true }
            input.push(Event(EventType.interrupt, ["reason": "voice"]))
            usleep(50_000)
        }
        stage.say("Count for me.")
        stage.waitForReplies(1)
        let events = try stage.finish()

        let types = events.types
        let interrupt = try #require(types.firstIndex(of: "interrupt"))
        #expect(!types[interrupt...].contains("reply-chunk"), "\(types)")
        let reply = try #require(events.replies.first)
        #expect(reply["interrupted"] == true)
        #expect(reply["text"]?.string == events.chunks.joined().trimmingCharacters(in: .whitespaces), "the reply is what was sent")
    }

    @Test func interruptWithHeardTextRecordsWhatWasHeard() throws {
        let server = try HangingServer(firstChunk: #"data: {"choices":[{"delta":{"content":"The weather today is sunny"}}]}"# + "\n\n")
        let stage = StageHarness(backend: openAI(server.baseURL, timeout: .seconds(60)))
        stage.say("Weather?")
        stage.output.wait { $0.types.contains("reply-chunk") }
        stage.input.push(Event(EventType.interrupt, ["heard": "The weather"]))
        let events = try stage.finish()

        #expect(events.replies.first?["text"] == "The weather today is sunny", "the reply says what was sent")
        #expect(stage.conversation.turns.last?.text == "The weather", "the history keeps what was heard")
    }

    @Test func heardOnFeedbackWhileTheReplyIsInFlightIsWhatTheHistoryKeeps() throws {
        let server = try HangingServer(firstChunk: #"data: {"choices":[{"delta":{"content":"The weather today is sunny"}}]}"# + "\n\n")
        let stage = StageHarness(backend: openAI(server.baseURL, timeout: .seconds(60)))
        stage.say("Weather?")
        let chunk = try #require(stage.output.wait { $0.types.contains("reply-chunk") }.of(EventType.replyChunk).first)
        stage.feedback.push(Event("heard", ["id": chunk["id"] ?? .null, "text": "The weather"]))
        #expect(stage.waitForLog(containing: "reply refined by what was heard"))
        stage.input.push(Event(EventType.interrupt, ["reason": "voice"]))
        let events = try stage.finish()

        #expect(events.replies.first?["text"] == "The weather today is sunny", "the reply says what was sent")
        #expect(!events.types.contains("heard"), "feedback is not forwarded")
        #expect(stage.conversation.turns.last == .assistant("The weather", interrupted: true, id: chunk["id"]?.string))
    }

    @Test func heardForAnUnknownReplyAndOtherFeedbackEventsAreIgnored() throws {
        let server = try FakeEngineServer([FakeEngineServer.openAIChat(["Hello there."]), FakeEngineServer.openAIChat(["Hi again."])])
        let stage = StageHarness(backend: openAI(server.baseURL))
        stage.say("Hi")
        stage.waitForReplies(1)
        stage.feedback.push(Event("ping", ["text": "x"]))
        stage.feedback.push(Event("heard", ["id": "nobody-0"]))
        stage.feedback.push(Event("heard", ["id": "nobody-1", "text": "Hel"]))
        #expect(stage.waitForLog(containing: "heard event for an unknown reply"))
        stage.feedback.end()  // the supervisor went away: the stage goes on
        stage.say("Again")
        let events = try stage.finish()

        #expect(events.replies.count == 2)
        #expect(stage.logs.all.contains { $0.contains("heard event without text") })
        #expect(stage.conversation.turns.prefix(2) == [.user("Hi"), .assistant("Hello there.", id: events.replies.first?["id"]?.string)])
    }

    @Test func transcriptsArrivingDuringAReplyAreAnsweredTogetherAfterIt() throws {
        let server = try FakeEngineServer([FakeEngineServer.openAIChat(["One", " moment", " please."], delay: 0.3),
                                           FakeEngineServer.openAIChat(["Both noted."])])
        let stage = StageHarness(backend: openAI(server.baseURL))
        stage.say("First.")
        stage.output.wait { $0.types.contains("reply-chunk") }
        stage.say("Second.")
        stage.say("Third.")
        let events = try stage.finish()

        #expect(events.replies.compactMap { $0["text"]?.string } == ["One moment please.", "Both noted."])
        let last = try #require(try server.requests().last?.json?["messages"])
        guard case .array(let messages) = last else { throw FakeEngineServer.Failure(message: "no messages") }
        #expect(messages.last == ["role": "user", "content": "Second. Third."])
        let types = events.types
        let firstReply = types.firstIndex(of: "reply")!
        #expect(types.lastIndex(of: "transcript")! < firstReply, "transcripts are forwarded at once, not held up")
    }

    @Test func deadPortGivesTheApologyAfterRetrying() throws {
        let stage = StageHarness(backend: openAI("http://127.0.0.1:\(try deadPort())"), retries: 1, apology: "Sorry, no model.")
        stage.say("Hello")
        let events = try stage.finish()

        #expect(events.types == ["transcript", "reply-chunk", "reply", "error"])
        #expect(events.chunks == ["Sorry, no model."])
        #expect(events.replies.first?["error"] == true)
        #expect(events.of("error").first?["text"]?.string?.contains("cannot connect") == true)
        #expect(stage.clock.sleeps.count == 1, "one retry")
        #expect(stage.conversation.turns == [.user("Hello")], "the apology is not the model's words")
    }

    @Test func apiKeyNeverReachesLogsOrEventsEvenWhenTheServerEchoesIt() throws {
        let key = "sk-test-9f8e7d6c5b4a"
        let server = try FakeEngineServer([["status": 500, "echo_auth": true]])
        let stage = StageHarness(backend: openAI(server.baseURL, key: key), retries: 0)
        stage.say("Hi")
        let events = try stage.finish()

        #expect(try server.requests().first?.authorization.present == true)
        let everything = stage.logs.all + events.map(\.jsonText)
        #expect(!everything.contains { $0.contains(key) }, "\(everything.filter { $0.contains(key) })")
        #expect(events.of("error").first?["text"]?.string?.contains("[redacted]") == true)
    }
}
