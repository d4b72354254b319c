import Foundation
import Testing

/// Runs the built vx tools as a user would, for tests.
enum Tool {
    /// The package root, from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Where `swift build` put the binaries (VX_BIN overrides, e.g. for release builds).
    static let binDirectory: URL = {
        if let dir = ProcessInfo.processInfo.environment["VX_BIN"] { return URL(fileURLWithPath: dir) }
        return root.appendingPathComponent(".build/debug")
    }()

    static func path(_ name: String) -> String { binDirectory.appendingPathComponent(name).path }

    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: String
        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs a vx tool with `arguments`, feeding `stdin`; kills it after `timeout` seconds
    /// and records a test failure instead of hanging.
    static func run(_ name: String, _ arguments: [String], stdin: Data = Data(), environment: [String: String] = [:],
                    timeout: Double = 60) throws -> Result {
        try shell([path(name)] + arguments, stdin: stdin, environment: environment, timeout: timeout)
    }

    /// Runs any command line (argv[0] looked up on PATH when it has no slash).
    static func shell(_ argv: [String], stdin: Data = Data(), environment: [String: String] = [:],
                      timeout: Double = 60) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        process.environment = env
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let group = DispatchGroup()
        nonisolated(unsafe) var out = Data()
        nonisolated(unsafe) var err = Data()
        group.enter()
        DispatchQueue.global().async {
            out = output.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            err = errors.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        DispatchQueue.global().async {
            try? input.fileHandleForWriting.write(contentsOf: stdin)
            try? input.fileHandleForWriting.close()
        }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            kill(process.processIdentifier, SIGKILL)
            Issue.record("\(argv.joined(separator: " ")) did not finish within \(timeout) s")
            _ = group.wait(timeout: .now() + 5)
        }
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: out, stderr: String(decoding: err, as: UTF8.self))
    }

    /// A fresh temporary directory, removed by the caller with `cleanup`.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vx-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
