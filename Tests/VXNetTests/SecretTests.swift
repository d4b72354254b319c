import Foundation
import Testing
import VXNet
import VXShared

/// An API key must never show up in a log line or an error message.
struct SecretTests {
    static let key = "sk-test-Zq81xVQmP4ls0dKkey"

    @Test func aSecretPrintsRedactedInEveryForm() {
        struct Config { var url = "http://x"; var key = Secret(SecretTests.key) }
        var dumped = ""
        dump(Config(), to: &dumped)
        for text in ["\(Secret(Self.key))", String(reflecting: Secret(Self.key)), "\(Config())", dumped] {
            #expect(!text.contains(Self.key), "\(text)")
        }
        var headers = HTTPHeaders()
        headers.setBearer(Secret(Self.key))
        #expect("\(headers)" == "Authorization: [redacted]")
    }

    @Test func theKeyNeverReachesLogsOrErrors() throws {
        let logs = LogStore()
        let client = HTTPClient(logger: logs.logger)
        var headers = HTTPHeaders()
        headers.setBearer(Secret(Self.key))
        var errors: [String] = []
        func attempt(_ request: HTTPRequest, retries: Int = 2) {
            let policy = RetryPolicy(maxAttempts: retries, initialDelay: .zero, maxDelay: .zero, jitter: 0)
            do {
                _ = try client.send(request, resilience: Resilience(retry: policy), clock: ManualClock())
                Issue.record("\(request.url) succeeded")
            } catch {
                errors.append("\(error)")
                errors.append(String(reflecting: error))
            }
        }

        // Servers that echo the credential back, in a 401 and in retried 500s.
        let server = try FakeEngineServer(script: #"""
            [{"status": 401, "echo_auth": true}, {"status": 500, "echo_auth": true}, {"status": 500, "echo_auth": true},
             {"sleep": 10}, {"sleep": 10}]
            """#)
        attempt(HTTPRequest(method: "POST", url: server.baseURL + "/v1/audio/transcriptions", headers: headers))
        attempt(HTTPRequest(method: "POST", url: server.baseURL + "/v1/audio/transcriptions", headers: headers))
        // A timeout, a dead port, and the key in the query string as some services want it.
        attempt(HTTPRequest(url: server.baseURL + "/v1/models?key=\(Self.key)", headers: headers,
                            timeouts: HTTPTimeouts(idle: .milliseconds(200))))
        attempt(HTTPRequest(url: "http://127.0.0.1:\(try deadPort())/x?key=\(Self.key)", headers: headers))
        var apiKeyHeader = HTTPHeaders()
        apiKeyHeader.add("x-api-key", Self.key)
        attempt(HTTPRequest(url: "http://user:\(Self.key)@127.0.0.1:\(try deadPort())/", headers: apiKeyHeader))

        #expect(errors.count == 10)
        #expect(errors[0].contains("HTTP 401") && errors[0].hasSuffix("[redacted]"), "the echoed key was cut out: \(errors[0])")
        #expect(logs.all.contains { $0.contains("retrying") && $0.contains("[redacted]") })
        #expect(try server.requests().allSatisfy { $0.authorization.present })
        for line in errors + logs.all {
            #expect(!line.contains(Self.key), "\(line)")
            #expect(!line.contains(String(Self.key.suffix(12))), "\(line)")
        }
    }
}
