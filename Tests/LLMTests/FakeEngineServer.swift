import Foundation
import Testing
import VXShared

/// Runs `Tests/Fixtures/fake_engine_server.py` as a real process on 127.0.0.1 for one test (a copy
/// of VXNetTests' helper: test targets cannot share files). The server exits when `stop()` closes
/// its stdin (also on deinit, or if the test process dies).
final class FakeEngineServer: @unchecked Sendable {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fake_engine_server.py").path

    let port: Int
    private let process = Process()
    private let stdin = Pipe()
    private let directory: URL
    private var logURL: URL { directory.appendingPathComponent("requests.jsonl") }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts the server with `steps` (see the fixture's doc comment), and `fallback` once they run out.
    convenience init(_ steps: [[String: Any]], fallback: [String: Any]? = nil) throws {
        var script: Any = steps
        if let fallback { script = ["steps": steps, "default": fallback] }
        try self.init(script: String(decoding: try JSONSerialization.data(withJSONObject: script), as: UTF8.self))
    }

    init(script: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vx-fake-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let stdout = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "--script", script, "--log", directory.appendingPathComponent("requests.jsonl").path,
                             "--idle-timeout", "120"]
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        guard let line = Self.readLine(stdout.fileHandleForReading.fileDescriptor, timeoutMs: 15_000), let port = Int(line) else {
            process.terminate()
            throw Failure(message: "fake_engine_server did not print its port")
        }
        self.port = port
    }

    deinit { stop() }

    /// Closes the server's stdin and waits (at most 5 s, then SIGKILL) for it to exit.
    func stop() {
        try? stdin.fileHandleForWriting.close()
        for _ in 0..<500 where process.isRunning { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    struct Failure: Error, CustomStringConvertible { var message: String; var description: String { message } }

    /// One request as the server recorded it.
    struct Request: Decodable {
        struct Authorization: Decodable { var present: Bool; var sha256: String? }
        var n: Int
        var method: String
        var path: String
        var headers: [String: String]
        var authorization: Authorization
        var json: JSONValue?
    }

    /// The requests recorded so far, in arrival order.
    func requests() throws -> [Request] {
        guard let data = FileManager.default.contents(atPath: logURL.path) else { return [] }
        return try data.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(Request.self, from: Data($0)) }
    }

    /// One `sse` step: the chunks written `delay` seconds apart.
    static func sse(_ chunks: [String], delay: Double = 0) -> [String: Any] {
        ["sse": chunks, "delay": delay]
    }

    /// An OpenAI chat stream: a role chunk, one chunk per piece, a finish reason, `[DONE]`.
    static func openAIChat(_ pieces: [String], delay: Double = 0) -> [String: Any] {
        var chunks = [#"data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}"# + "\n\n"]
        for piece in pieces {
            chunks.append("data: " + json(["choices": [["index": 0, "delta": ["content": piece], "finish_reason": NSNull()]]]) + "\n\n")
        }
        chunks.append(#"data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"# + "\n\n")
        chunks.append("data: [DONE]\n\n")
        return sse(chunks, delay: delay)
    }

    /// An OpenAI completions stream (llama.cpp's server for a completion prompt).
    static func openAICompletion(_ pieces: [String], delay: Double = 0) -> [String: Any] {
        var chunks = pieces.map { "data: " + json(["choices": [["index": 0, "text": $0, "finish_reason": NSNull()]]]) + "\n\n" }
        chunks.append(#"data: {"choices":[{"index":0,"text":"","finish_reason":"stop"}]}"# + "\n\n")
        chunks.append("data: [DONE]\n\n")
        return sse(chunks, delay: delay)
    }

    static func json(_ value: Any) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Reads one line from `fd`, waiting at most `timeoutMs` in all.
    private static func readLine(_ fd: Int32, timeoutMs: Int) -> String? {
        var bytes: [UInt8] = []
        var waited = 0
        while waited < timeoutMs, bytes.count < 64 {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else {
                waited += 100
                continue
            }
            var byte: UInt8 = 0
            guard read(fd, &byte, 1) == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return nil
    }
}

/// A port on 127.0.0.1 that nothing listens on: bound, then closed.
func deadPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw FakeEngineServer.Failure(message: "socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw FakeEngineServer.Failure(message: "bind() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}
