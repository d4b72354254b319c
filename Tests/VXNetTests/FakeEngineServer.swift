import Foundation
import Testing

/// Runs `Tests/Fixtures/fake_engine_server.py` as a real process on 127.0.0.1 for one test.
/// The server exits when `stop()` closes its stdin (also on deinit, or if the test process dies).
final class FakeEngineServer {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fake_engine_server.py").path

    let port: Int
    private let process = Process()
    private let stdin = Pipe()
    private let directory: URL
    private var logURL: URL { directory.appendingPathComponent("requests.jsonl") }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts the server with `script` (JSON text, see the fixture's doc comment).
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
        struct File: Decodable { var filename: String; var content_type: String?; var size: Int; var base64: String }
        var n: Int
        var t: Double
        var method: String
        var path: String
        var query: Bool
        var headers: [String: String]
        var authorization: Authorization
        var body_size: Int
        var fields: [String: String]?
        var files: [String: File]?
    }

    /// The requests recorded so far, in arrival order.
    func requests() throws -> [Request] {
        guard let data = FileManager.default.contents(atPath: logURL.path) else { return [] }
        return try data.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(Request.self, from: Data($0)) }
    }

    /// Waits until at least `count` requests have arrived (polling the log, at most `seconds`).
    func waitForRequests(_ count: Int, seconds: Double = 10) throws -> [Request] {
        for _ in 0..<Int(seconds * 100) {
            let got = try requests()
            if got.count >= count { return got }
            usleep(10_000)
        }
        throw Failure(message: "the server did not get \(count) requests within \(seconds) s")
    }

    /// The SHA-256 (hex) the server records for a header value, computed by sha256sum.
    static func sha256(_ text: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sha256sum"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: out, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
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
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw FakeEngineServer.Failure(message: "bind() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}
