import Foundation
import Testing

/// `Tests/Fixtures/fake_engine_server.py` run for one test, standing in for an OpenAI-compatible
/// speech service. It exits when `stop()` closes its stdin (also on deinit).
final class FakeSpeechServer: @unchecked Sendable {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fake_engine_server.py").path

    let port: Int
    private let process = Process()
    private let stdin = Pipe()
    private let log: URL

    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(script: Any) throws {
        log = FileManager.default.temporaryDirectory.appendingPathComponent("vx-tts-fake-\(UUID().uuidString.prefix(8)).jsonl")
        let scriptText = String(decoding: try JSONSerialization.data(withJSONObject: script), as: UTF8.self)
        let stdout = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "--script", scriptText, "--log", log.path, "--idle-timeout", "120"]
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        var line: [UInt8] = []
        let fd = stdout.fileHandleForReading.fileDescriptor
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1, byte != UInt8(ascii: "\n") { line.append(byte) }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw Failure(message: "fake_engine_server did not print its port")
        }
        self.port = port
    }

    deinit { stop() }

    func stop() {
        try? stdin.fileHandleForWriting.close()
        for _ in 0..<500 where process.isRunning { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: log)
    }

    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// The requests recorded so far, as the server logged them (JSON objects).
    func requests() throws -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: log.path) else { return [] }
        return try data.split(separator: UInt8(ascii: "\n")).map {
            try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] ?? [:]
        }
    }

    /// Waits (polling, at most `seconds`) until `count` requests have arrived.
    func waitForRequests(_ count: Int, seconds: Double = 10) throws -> [[String: Any]] {
        for _ in 0..<Int(seconds * 100) {
            let got = try requests()
            if got.count >= count { return got }
            usleep(10_000)
        }
        throw Failure(message: "the server did not get \(count) requests within \(seconds) s")
    }

    /// A body the fixture can send: it writes its text as UTF-8, so only bytes below 0x80 survive.
    static func text(_ bytes: [UInt8]) -> String {
        precondition(bytes.allSatisfy { $0 < 0x80 }, "the fake server sends text: bytes must be ASCII")
        return String(decoding: bytes, as: UTF8.self)
    }
}
