import Foundation
import Logging
import Testing
import VXNet
import VXShared

/// HTTPClient against the real fixture server process on 127.0.0.1.
struct HTTPClientTests {
    let logs = LogStore()
    var client: HTTPClient { HTTPClient(logger: logs.logger) }

    @Test func postsJSONWithHeadersAndCollectsTheBody() throws {
        let server = try FakeEngineServer(script: #"[{"json": {"text": "hello there"}}]"#)
        var headers = HTTPHeaders()
        headers.setBearer(Secret("sk-abc"))
        headers.add("X-Trace", "1")
        let response = try client.send(.postJSON(url: server.baseURL + "/v1/echo?x=1", json: #"{"a": 1}"#, headers: headers))

        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.text == #"{"text": "hello there"}"#)
        let request = try #require(try server.requests().first)
        #expect(request.method == "POST")
        #expect(request.path == "/v1/echo")
        #expect(request.headers["x-trace"] == "1")
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["expect"] == nil, "no 100-continue round trip")
        #expect(request.authorization.present)
        #expect(request.authorization.sha256 == (try FakeEngineServer.sha256("Bearer sk-abc")))
        #expect(request.body_size == 8)
    }

    @Test func multipartUploadCarriesFieldsAndFileBytes() throws {
        let server = try FakeEngineServer(script: #"[{"json": {}}]"#)
        let file = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }  // binary, CR and LF bytes included
        _ = try client.send(HTTPRequest(method: "POST", url: server.baseURL + "/upload", body: .multipart([
            .field("model", "whisper-1"),
            .file("file", filename: "a.bin", contentType: "application/octet-stream", data: file),
            .field("empty", ""),
        ])))

        let request = try #require(try server.requests().first)
        #expect(request.fields == ["model": "whisper-1", "empty": ""])
        let uploaded = try #require(request.files?["file"])
        #expect(uploaded.filename == "a.bin")
        #expect(uploaded.content_type == "application/octet-stream")
        #expect(uploaded.size == file.count)
        #expect(Data(base64Encoded: uploaded.base64) == Data(file))
    }

    @Test func anErrorStatusNamesTheEndpointAndAnExcerptButNotTheQuery() throws {
        let server = try FakeEngineServer(script: #"[{"status": 404, "body": "no such\nmodel:\t whisper-9"}]"#)
        let url = server.baseURL + "/v1/audio/transcriptions?api_key=hunter2"
        #expect {
            try client.send(HTTPRequest(method: "POST", url: url))
        } throws: { error in
            guard case .status(_, 404, nil, "no such model: whisper-9")? = error as? HTTPError else { return false }
            let text = "\(error)"
            return text == "HTTP 404 from http://127.0.0.1:\(server.port)/v1/audio/transcriptions: no such model: whisper-9"
                && !(error as! HTTPError).isRetryable
        }
    }

    @Test func tooManyRequestsCarriesRetryAfterAndIsRetryable() throws {
        let server = try FakeEngineServer(script: #"[{"status": 429, "headers": {"Retry-After": "7"}}, {"status": 503}]"#)
        let request = HTTPRequest(url: server.baseURL + "/")
        #expect {
            try client.send(request)
        } throws: { error in
            guard let error = error as? HTTPError, case .status(_, 429, .seconds(7), _) = error else { return false }
            return error.isRetryable && error.retryAfter == .seconds(7) && "\(error)".contains("(retry after 7.0 s)")
        }
        #expect {
            try client.send(request)
        } throws: { ($0 as? HTTPError)?.isRetryable == true && ($0 as? HTTPError)?.retryAfter == nil }
    }

    @Test func streamDeliversServerSentEventsAsTheyArrive() throws {
        // OpenAI's chat.completion.chunk stream, with a keep-alive comment and chunks cut mid-line.
        let script = #"""
        [{"sse": [": keep-alive\n\n",
                  "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
                  "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"con",
                  "tent\":\"lo\"}}]}\r\n\r\n",
                  "data: [DONE]\n\n"], "delay": 0.05}]
        """#
        let server = try FakeEngineServer(script: script)
        var parser = SSEParser()
        var events: [SSEEvent] = []
        var heads: [HTTPResponseHead] = []
        var chunks = 0
        let head = try client.stream(HTTPRequest(method: "POST", url: server.baseURL + "/v1/chat/completions"),
                                     onHead: { heads.append($0) }) { chunk in
            chunks += 1
            #expect(heads.count == 1, "the head comes before the first chunk")
            events += try parser.feed(chunk)
        }
        #expect(head.status == 200 && head.headers["Content-Type"] == "text/event-stream")
        #expect(chunks >= 2, "the body arrived in several chunks")
        #expect(events.map(\.data) == [
            #"{"object":"chat.completion.chunk","choices":[{"delta":{"content":"Hel"}}]}"#,
            #"{"object":"chat.completion.chunk","choices":[{"delta":{"content":"lo"}}]}"#,
            "[DONE]",
        ])
        #expect(events.last?.isDone == true)
        #expect(!parser.hasIncompleteEvent)
    }

    @Test func streamParsesAnthropicEventTypes() throws {
        let script = #"""
        [{"sse": ["event: message_start\ndata: {\"type\":\"message_start\"}\n\n",
                  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hi\"}}\n\n",
                  "event: ping\ndata: {\"type\": \"ping\"}\n\n",
                  "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"], "delay": 0.02}]
        """#
        let server = try FakeEngineServer(script: script)
        var parser = SSEParser()
        var types: [String] = []
        try client.stream(HTTPRequest(method: "POST", url: server.baseURL + "/v1/messages")) { chunk in
            types += try parser.feed(chunk).map(\.type)
        }
        #expect(types == ["message_start", "content_block_delta", "ping", "message_stop"])
    }

    @Test func anErrorThrownByTheBodyHandlerStopsTheRequestAndComesBackUnchanged() throws {
        struct Enough: Error {}
        let server = try FakeEngineServer(script: #"[{"sse": ["data: 1\n\n", "data: 2\n\n"], "delay": 5}]"#)
        #expect(throws: Enough.self) {
            try client.stream(HTTPRequest(url: server.baseURL + "/")) { _ in throw Enough() }
        }
    }

    @Test(arguments: [("true", "before responding"), ("\"reset\"", "before responding")])
    func aConnectionClosedWithoutAResponseIsLostAndRetryable(close: String, words: String) throws {
        let server = try FakeEngineServer(script: #"[{"close": \#(close)}]"#)
        #expect {
            try client.send(HTTPRequest(url: server.baseURL + "/x"))
        } throws: { error in
            guard let error = error as? HTTPError, case .connectionLost(_, _, responseStarted: false) = error else { return false }
            return error.isRetryable && "\(error)".hasPrefix("http://127.0.0.1:\(server.port)/x closed the connection \(words)")
        }
    }

    @Test func garbageInsteadOfHTTPIsAMalformedResponse() throws {
        let server = try FakeEngineServer(script: #"[{"raw": "garbage\r\nmore garbage\r\n\r\n"}]"#)
        #expect {
            try client.send(HTTPRequest(url: server.baseURL + "/"))
        } throws: { error in
            guard let error = error as? HTTPError, case .malformedResponse = error else { return false }
            return !error.isRetryable && !"\(error)".contains("\n")
        }
    }

    @Test func aSlowFirstByteTimesOutAndIsRetryable() throws {
        let server = try FakeEngineServer(script: #"[{"sleep": 10, "json": {}}]"#)
        let timeouts = HTTPTimeouts(connect: .seconds(5), idle: .milliseconds(300), total: .seconds(60))
        #expect {
            try client.send(HTTPRequest(url: server.baseURL + "/slow", timeouts: timeouts))
        } throws: { error in
            guard let error = error as? HTTPError,
                  case .timeout(_, .idle, .milliseconds(300), responseStarted: false) = error else { return false }
            return error.isRetryable && "\(error)" ==
                "request to http://127.0.0.1:\(server.port)/slow timed out waiting for a response (no data for 300 ms)"
        }
    }

    @Test func aStallInTheMiddleOfAStreamTimesOutAndIsNotRetried() throws {
        let server = try FakeEngineServer(script: #"[{"sse": ["data: 1\n\n", "data: 2\n\n"], "delay": 10}]"#)
        let timeouts = HTTPTimeouts(idle: .milliseconds(300), total: .seconds(60))
        var received = 0
        #expect {
            try client.stream(HTTPRequest(url: server.baseURL + "/", timeouts: timeouts)) { received += $0.count }
        } throws: { error in
            guard let error = error as? HTTPError, case .timeout(_, .idle, _, responseStarted: true) = error else { return false }
            return !error.isRetryable
        }
        #expect(received == 9)
    }

    @Test func theTotalLimitEndsATrickle() throws {
        let chunks = Array(repeating: #""data: x\n\n""#, count: 200).joined(separator: ",")
        let server = try FakeEngineServer(script: #"[{"sse": [\#(chunks)], "delay": 0.05}]"#)
        let timeouts = HTTPTimeouts(idle: .seconds(5), total: .milliseconds(400))
        #expect {
            try client.stream(HTTPRequest(url: server.baseURL + "/", timeouts: timeouts)) { _ in }
        } throws: { error in
            guard case .timeout(_, .total, .milliseconds(400), responseStarted: true)? = error as? HTTPError else { return false }
            return "\(error)".contains("over the 400 ms time limit")
        }
    }

    @Test func aDeadPortIsAConnectError() throws {
        let port = try deadPort()
        #expect {
            try client.send(HTTPRequest(url: "http://127.0.0.1:\(port)/v1/models"))
        } throws: { error in
            guard let error = error as? HTTPError, case .connect = error else { return false }
            return error.isRetryable && "\(error)" == "cannot connect to http://127.0.0.1:\(port)/v1/models: connection refused"
        }
    }

    @Test func cancellingFromAnotherThreadStopsAnInFlightRequest() throws {
        let server = try FakeEngineServer(script: #"[{"sleep": 3600, "json": {}}]"#)
        let cancellation = Cancellation()
        let client = self.client
        let url = server.baseURL + "/slow"
        // No timeouts to speak of: only the cancellation can end this request.
        let request = HTTPRequest(url: url, timeouts: HTTPTimeouts(connect: .seconds(60), idle: nil, total: nil))
        let running = Background { Outcome { try client.send(request, cancellation: cancellation).status } }
        _ = try server.waitForRequests(1)
        cancellation.cancel()
        let outcome = try #require(running.wait(seconds: 30), "the request did not stop after cancel()")
        #expect(outcome.error as? HTTPError == .cancelled(try HTTPEndpoint(url: url)))
        #expect("\(outcome.error!)" == "request to http://127.0.0.1:\(server.port)/slow was cancelled")
    }

    @Test func aCancelledTokenSendsNothing() throws {
        let server = try FakeEngineServer(script: #"[{"json": {}}]"#)
        let cancellation = Cancellation()
        cancellation.cancel()
        #expect(throws: HTTPError.cancelled(try HTTPEndpoint(url: server.baseURL + "/"))) {
            try client.send(HTTPRequest(url: server.baseURL + "/"), cancellation: cancellation)
        }
        #expect(try server.requests().isEmpty)
    }

    @Test func aBodyOverTheLimitIsRefused() throws {
        let server = try FakeEngineServer(script: #"[{"body": "\#(String(repeating: "x", count: 2000))"}]"#)
        let small = HTTPClient(configuration: .init(maxResponseBytes: 1000), logger: logs.logger)
        #expect {
            try small.send(HTTPRequest(url: server.baseURL + "/"))
        } throws: { "\($0)".hasSuffix("the body is over the 1000-byte limit") }
    }

    @Test func oneClientServesRequestsInTurnAndAtOnce() throws {
        let server = try FakeEngineServer(script: #"{"default": {"sleep": 0.2, "json": {"ok": true}}}"#)
        let client = self.client
        for _ in 0..<3 {
            #expect(try client.send(HTTPRequest(url: server.baseURL + "/")).status == 200)
        }
        let url = server.baseURL + "/"
        let parallel = (0..<4).map { _ in Background { Outcome { try client.send(HTTPRequest(url: url)).status } } }
        for running in parallel {
            let outcome = try #require(running.wait(seconds: 30))
            guard case .value(200) = outcome else {
                Issue.record("a parallel request failed: \(outcome)")
                continue
            }
        }
        #expect(try server.requests().count == 7)
    }

    @Test(arguments: [
        ("ftp://127.0.0.1/x", "invalid URL 'ftp://127.0.0.1/x': the scheme must be http or https"),
        ("http://", "invalid URL 'http://': "),
        ("http://user:pw@[::1/x?key=sk-1", "invalid URL 'http://[::1/x': "),
    ])
    func badURLsAreRefusedWithoutShowingCredentials(url: String, message: String) {
        #expect {
            try client.send(HTTPRequest(url: url))
        } throws: { error in
            guard case .invalidURL? = error as? HTTPError else { return false }
            return "\(error)".hasPrefix(message) && !"\(error)".contains("pw") && !"\(error)".contains("sk-1")
        }
    }

    @Test func endpointsLeaveOutQueryAndCredentials() throws {
        #expect("\(try HTTPEndpoint(url: "https://me:pw@api.example.com/v1/x?key=1#frag"))" == "https://api.example.com:443/v1/x")
        #expect("\(try HTTPEndpoint(url: "http://127.0.0.1:8080"))" == "http://127.0.0.1:8080/")
        #expect("\(try HTTPEndpoint(url: "HTTP://[::1]:9/a"))" == "http://[::1]:9/a")
    }

    @Test func aHeaderWithALineBreakIsRefused() throws {
        var headers = HTTPHeaders()
        headers.add("X-Evil", "a\r\nInjected: 1")
        #expect {
            try client.send(HTTPRequest(url: "http://127.0.0.1:9/", headers: headers))
        } throws: { error in
            guard case .invalidRequest? = error as? HTTPError else { return false }
            return "\(error)".contains("'X-Evil'")
        }
    }
}
