import Foundation
import Synchronization
import Testing
import VXShared

/// vx-llm run as a user runs it: the built binary, JSON-lines transcripts on stdin, frames on
/// stdout, against the scripted fake server, a stand-in llama_cpp.server, and the real local model.
@Suite(.serialized) struct LLMToolTests {
    let dir: URL
    init() throws { dir = try Tool.temporaryDirectory() }

    static func transcript(_ text: String) -> String {
        Event(EventType.transcript, ["text": .string(text)]).jsonText + "\n"
    }

    func events(_ result: Tool.Result) throws -> [Event] {
        try decodeFrames(result.stdout).compactMap(\.event)
    }

    /// The scripted fixture server (Tests/Fixtures/fake_engine_server.py) with `steps`; its port
    /// and the file it records requests in.
    final class Fixture {
        let process = Process()
        let stdin = Pipe()
        let port: Int
        let log: URL

        init(_ steps: [[String: Any]], in dir: URL) throws {
            log = dir.appendingPathComponent("requests-\(UUID().uuidString.prefix(6)).jsonl")
            let script = Tool.root.appendingPathComponent("Tests/Fixtures/fake_engine_server.py").path
            let stdout = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script, "--script",
                                 String(decoding: try JSONSerialization.data(withJSONObject: steps), as: UTF8.self),
                                 "--log", log.path, "--idle-timeout", "120"]
            process.standardInput = stdin
            process.standardOutput = stdout
            try process.run()
            let line = String(decoding: stdout.fileHandleForReading.availableData, as: UTF8.self)
            port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            try #require(port > 0, "the fake server did not print its port: \(line)")
        }

        deinit {
            try? stdin.fileHandleForWriting.close()
            process.waitUntilExit()
        }

        var url: String { "http://127.0.0.1:\(port)" }

        /// The JSON bodies of the requests so far.
        func requests() throws -> [[String: Any]] {
            guard let data = FileManager.default.contents(atPath: log.path) else { return [] }
            return try data.split(separator: UInt8(ascii: "\n")).map {
                try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] ?? [:]
            }
        }
    }

    static func chatStream(_ pieces: [String]) -> [String: Any] {
        var chunks = pieces.map { piece in
            "data: " + String(decoding: try! JSONSerialization.data(withJSONObject: ["choices": [["delta": ["content": piece]]]]),
                              as: UTF8.self) + "\n\n"
        }
        chunks.append(#"data: {"choices":[{"delta":{},"finish_reason":"stop"}]}"# + "\n\ndata: [DONE]\n\n")
        return ["sse": chunks]
    }

    // MARK: Help and usage

    @Test func helpNamesTheBackendsTheLocalServerAndTheExamples() throws {
        let result = try Tool.run("vx-llm", ["--help"])
        #expect(result.status == 0)
        let help = result.stdoutText.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "  ", with: " ")
        for text in ["vx-llm starts itself", "scripts/setup-llm", "BASE model", "instruction-tuned", "--backend openai --url http://127.0.0.1:8080",
                     "vx-stt | vx-llm | vx-tts | vx-play", "ANTHROPIC_API_KEY", "llm-unavailable", "never logged",
                     "engine_ms", "--feedback listen:", "heard {id, text}"] {
            #expect(help.contains(text), "--help should mention \(text)")
        }
    }

    @Test(arguments: [
        (["--chat", "--completion"], "exclude each other"),
        (["--backend", "anthropic", "--completion"], "chat prompts only"),
        (["--url", "http://127.0.0.1:1"], "--backend local starts its own"),
        (["--context-budget", "lots"], "--context-budget"),
        (["--backend", "openai", "--gguf", "x.gguf"], "for --backend local"),
    ])
    func badUsageIsOneLineAndStatus64(arguments: [String], message: String) throws {
        let result = try Tool.run("vx-llm", arguments + ["--no-session"])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("vx-llm: ") && result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func missingLocalServerIsStatus69NamingWhatAndSetupLLM() throws {
        // No stdin: vx-llm exits before reading it, and writing to the closed pipe would kill this test process.
        let result = try Tool.run("vx-llm", ["--llm-server-python", "/nonexistent/venv/bin/python", "--no-session"])
        #expect(result.status == 69)
        #expect(result.stderr.contains("/nonexistent/venv/bin/python does not exist") && result.stderr.contains("scripts/setup-llm"),
                "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stdout.isEmpty)
    }

    @Test func hostedAPIWithoutAKeyIsStatus69NamingTheVariable() throws {
        let result = try Tool.run("vx-llm", ["--backend", "anthropic", "--no-session"], environment: ["ANTHROPIC_API_KEY": ""])
        #expect(result.status == 69)
        #expect(result.stderr.contains("ANTHROPIC_API_KEY"), "\(result.stderr)")
    }

    // MARK: Against the scripted server

    @Test func deadPortGivesTheApologyAnErrorEventAndStatus0() throws {
        let port = try Self.deadPort()
        let result = try Tool.run("vx-llm", ["--backend", "openai", "--url", "http://127.0.0.1:\(port)", "--no-session", "--retries", "0"],
                                  stdin: Data(Self.transcript("Hello?").utf8))
        #expect(result.status == 0, "\(result.stderr)")
        let events = try events(result)
        #expect(events.map(\.type) == ["transcript", "reply-chunk", "reply", "error"])
        #expect(events[1]["text"] == "Sorry, I can't reach my language model right now.")
        #expect(events[2]["error"] == true)
        #expect(events[3]["code"] == "llm-unavailable")
        #expect(result.stderr.contains("no reply from the language model; apologised"), "a warning at the default level")
    }

    @Test func apiKeyFromTheEnvironmentReachesTheServerButNeverTheLog() throws {
        let key = "sk-vx-test-0123456789abcdef"
        let server = try Fixture([["status": 500, "echo_auth": true], Self.chatStream(["Hi."])], in: dir)
        let result = try Tool.run("vx-llm", ["--backend", "openai", "--url", server.url, "--no-session", "--log-level", "trace",
                                             "--api-key-env", "VX_TEST_KEY"],
                                  stdin: Data(Self.transcript("Hello").utf8), environment: ["VX_TEST_KEY": key])
        #expect(result.status == 0)
        #expect(try events(result).last?["text"] == "Hi.")
        #expect(!result.stderr.contains(key), "the key is in the log")
        #expect(!result.stdoutText.contains(key))
        #expect(result.stderr.contains("[redacted]"), "the echoed key was cut out of the error: \(result.stderr)")
        let sha = try Tool.shell(["bash", "-c", "printf %s \"$0\" | sha256sum | cut -d' ' -f1", "Bearer \(key)"]).stdoutText
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let auth = try server.requests().compactMap { $0["authorization"] as? [String: Any] }
        #expect(auth.count == 2 && auth.allSatisfy { $0["sha256"] as? String == sha })
    }

    @Test func historyIsWrittenPrivatelyAndResumedByTheNextProcess() throws {
        let server = try Fixture([Self.chatStream(["Nice to meet you, Ada."]), Self.chatStream(["Your name is Ada."])], in: dir)
        let session = dir.appendingPathComponent("state/session.jsonl")
        let arguments = ["--backend", "openai", "--url", server.url, "--session", session.path]
        let first = try Tool.run("vx-llm", arguments, stdin: Data(Self.transcript("My name is Ada.").utf8))
        #expect(first.status == 0, "\(first.stderr)")
        let mode = try FileManager.default.attributesOfItem(atPath: session.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // A torn last line (a crash mid-write) must not stop the next run.
        let handle = try FileHandle(forWritingTo: session)
        handle.seekToEndOfFile()
        handle.write(Data(#"{"role":"user","te"#.utf8))
        handle.write(Data("\n".utf8))
        try handle.close()

        let second = try Tool.run("vx-llm", arguments, stdin: Data(Self.transcript("What is my name?").utf8))
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("skipped a line of the session file") && second.stderr.contains("line=3"), "\(second.stderr)")
        #expect(try events(second).last?["text"] == "Your name is Ada.")
        let messages = try #require(try server.requests().last?["json"] as? [String: Any])["messages"] as? [[String: String]]
        #expect(messages?.dropFirst().map { $0["content"] ?? "" } == ["My name is Ada.", "Nice to meet you, Ada.", "What is my name?"])
        let lines = try String(contentsOf: session, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5, "two turns a run, and the torn line left as it was")
    }

    @Test func replyChunksCarryTheEngineTimeAndItNeverGoesDown() throws {
        var step = Self.chatStream(["One", " two", " three."])
        step["delay"] = 0.1
        let server = try Fixture([step], in: dir)
        let result = try Tool.run("vx-llm", ["--backend", "openai", "--url", server.url, "--no-session"],
                                  stdin: Data(Self.transcript("Count").utf8))
        #expect(result.status == 0, "\(result.stderr)")
        let chunks = try events(result).filter { $0.type == "reply-chunk" }
        let times = chunks.compactMap { $0["engine_ms"]?.double }
        #expect(chunks.count == 3 && times.count == 3, "\(chunks.map(\.jsonText))")
        #expect(times == times.sorted(), "engine_ms went down: \(times)")
        #expect(times.first.map { $0 > 0 } == true)
        // The pieces come 100 ms apart: the engine's time says so, to 0.1 ms.
        #expect((times.last ?? 0) - (times.first ?? 0) >= 150, "\(times)")
        #expect(times.allSatisfy { ($0 * 10).rounded() == $0 * 10 })
    }

    // MARK: Feedback

    @Test func heardOnTheFeedbackSocketRefinesTheSessionAndTheNextPrompt() throws {
        let full = "The capital of France is Paris. It is known for the Eiffel Tower."
        let heard = "The capital of France is Paris."
        let server = try Fixture([Self.chatStream(["The capital of France is Paris.", " It is known for the Eiffel Tower."]),
                                  Self.chatStream(["Sure."])], in: dir)
        let session = dir.appendingPathComponent("session.jsonl")
        let socket = dir.appendingPathComponent("feedback.sock").path
        let llm = try FramesIn(Tool.path("vx-llm"), ["--backend", "openai", "--url", server.url, "--session", session.path,
                                                     "--feedback", "listen:\(socket)"])
        llm.write(Self.transcript("What is the capital of France?"))
        let reply = try #require(llm.next { $0.type == "reply" })
        #expect(reply["text"]?.string == full)
        let id = try #require(reply["id"]?.string)

        // A peer that connects and goes, then one with an event vx-llm does not know before the heard.
        try Self.sendFrames(to: socket, [])
        try Self.sendFrames(to: socket, [Event("ping", ["text": "ignored"]),
                                         Event("heard", ["id": .string(id), "text": .string(heard)])])
        var lines: [String] = []
        for _ in 0..<500 where lines.count < 3 {
            lines = (try? String(contentsOf: session, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
            if lines.count < 3 { usleep(10_000) }
        }
        try #require(lines.count == 3, "the refinement was not written: \(lines) \(llm.stderr)")
        let refinement = try JSONValue.parse(Array(lines[2].utf8))
        #expect(refinement["refines"]?.string == id && refinement["text"]?.string == heard, "\(lines[2])")
        #expect(try JSONValue.parse(Array(lines[1].utf8))["text"]?.string == full, "the reply as sent stays in the file")

        llm.write(Self.transcript("Tell me more."))
        llm.closeInput()
        #expect(llm.next { $0.type == "reply" }?["text"] == "Sure.")
        #expect(llm.waitForExit() == 0, "\(llm.stderr)")
        let messages = try #require(try server.requests().last?["json"] as? [String: Any])["messages"] as? [[String: String]]
        #expect(messages?.dropFirst().map { $0["content"] ?? "" } == [
            "What is the capital of France?", heard + " [interrupted]", "Tell me more.",
        ])
        #expect(!llm.stderr.contains("feedback input failed"), "\(llm.stderr)")
        #expect(!FileManager.default.fileExists(atPath: socket), "the feedback socket is removed on the way out")
    }

    @Test func feedbackPeerThatNeverComesDoesNotHoldUpReplies() throws {
        let server = try Fixture([Self.chatStream(["Hi."])], in: dir)
        let started = Date()
        let result = try Tool.run("vx-llm", ["--backend", "openai", "--url", server.url, "--no-session",
                                             "--feedback", "connect:\(dir.path)/nobody.sock"],
                                  stdin: Data(Self.transcript("Hello").utf8))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try events(result).last?["text"] == "Hi.")
        #expect(Date().timeIntervalSince(started) < 10, "vx-llm waited for its feedback peer")
    }

    @Test func feedbackOnStdinIsAUsageError() throws {
        let result = try Tool.run("vx-llm", ["--feedback", "-", "--no-session"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--feedback takes connect:PATH or listen:PATH"), "\(result.stderr)")
    }

    /// Connects to the Unix socket at `path`, writes `events` as frames and closes.
    static func sendFrames(to path: String, _ events: [Event]) throws {
        var bytes: [UInt8] = []
        for event in events { FrameEncoder.encode(.event(event), into: &bytes) }
        let script = "import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n"
            + "s.sendall(sys.stdin.buffer.read())\ns.close()\n"
        let sent = try Tool.shell(["python3", "-c", script, path], stdin: Data(bytes))
        try #require(sent.status == 0, "\(sent.stderr)")
    }

    // MARK: The local server's lifecycle, with a stand-in llama_cpp.server

    /// A Python "venv" whose llama_cpp.server is a small HTTP server speaking the two endpoints
    /// vx-llm uses. It writes its pid to the file given with --pidfile, and ignores SIGTERM when
    /// given --ignore-term (so only SIGKILL stops it).
    func standInVenv() throws -> (python: String, model: String) {
        let package = dir.appendingPathComponent("fakepy/llama_cpp/server")
        try FileManager.default.createDirectory(at: package, withIntermediateDirectories: true)
        try "".write(to: package.deletingLastPathComponent().appendingPathComponent("__init__.py"), atomically: true, encoding: .utf8)
        try "".write(to: package.appendingPathComponent("__init__.py"), atomically: true, encoding: .utf8)
        try Self.standInServer.write(to: package.appendingPathComponent("__main__.py"), atomically: true, encoding: .utf8)
        let python = dir.appendingPathComponent("venv/bin/python")
        try FileManager.default.createDirectory(at: python.deletingLastPathComponent(), withIntermediateDirectories: true)
        try "#!/bin/sh\nPYTHONPATH='\(dir.appendingPathComponent("fakepy").path)' exec python3 \"$@\"\n"
            .write(to: python, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: python.path)
        let model = dir.appendingPathComponent("stand-in.gguf")
        try "GGUF".write(to: model, atomically: true, encoding: .utf8)
        return (python.path, model.path)
    }

    static let standInServer = #"""
        import argparse, json, os, signal, sys, time
        from http.server import BaseHTTPRequestHandler, HTTPServer
        p = argparse.ArgumentParser()
        p.add_argument("--port", type=int); p.add_argument("--host"); p.add_argument("--pidfile")
        p.add_argument("--ignore-term", action="store_true"); p.add_argument("--log")
        args, _ = p.parse_known_args()
        leaked = [n for n in os.environ if n in ("HOST", "PORT", "API_KEY", "MODEL") or n.endswith("_API_KEY")]
        if leaked:
            sys.exit("stand-in: inherited " + " ".join(leaked))
        if args.ignore_term:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"object": "list", "data": [{"id": "stand-in"}]}).encode()
                self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def do_POST(self):
                request = self.rfile.read(int(self.headers["Content-Length"]))
                if args.log:
                    with open(args.log, "ab") as f: f.write(request + b"\n")
                self.send_response(200); self.send_header("Content-Type", "text/event-stream"); self.end_headers()
                for text in [" Hello", " from the stand-in."]:
                    self.wfile.write(b"data: " + json.dumps({"choices": [{"text": text, "finish_reason": None}]}).encode() + b"\n\n")
                self.wfile.write(b'data: {"choices":[{"text":"","finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
            def log_message(self, *a): print("stand-in:", *a, file=sys.stderr)
        server = HTTPServer((args.host, args.port), H)
        with open(args.pidfile, "w") as f: f.write(str(os.getpid()))
        print("stand-in llama_cpp.server on", args.port, file=sys.stderr)
        server.serve_forever()
        """#

    @Test func localServerIsStartedUsedAndGoneWhenVXLLMEnds() throws {
        let (python, model) = try standInVenv()
        let pidfile = dir.appendingPathComponent("server.pid"), log = dir.appendingPathComponent("server.log")
        let result = try Tool.run("vx-llm", ["--llm-server-python", python, "--gguf", model, "--no-session", "--log-level", "info",
                                             "--server-arg=--pidfile=\(pidfile.path)", "--server-arg=--log=\(log.path)"],
                                  stdin: Data(Self.transcript("Hi").utf8),
                                  environment: ["HOST": "0.0.0.0", "PORT": "1", "API_KEY": "x", "OPENAI_API_KEY": "sk-x"])
        #expect(result.status == 0, "\(result.stderr)")
        let events = try events(result)
        #expect(events.compactMap { $0.type == "reply-chunk" ? $0["text"]?.string : nil } == ["Hello", " from the stand-in."])
        #expect(events.last?["text"] == "Hello from the stand-in." && events.last?["backend"] == "local")
        #expect(events.last?["model"] == "stand-in")
        let posted = try Data(contentsOf: log).split(separator: UInt8(ascii: "\n"))
        #expect(posted.count == 2, "a one-token warm-up at start, then the turn")
        let warmUp = try JSONSerialization.jsonObject(with: Data(try #require(posted.first))) as? [String: Any]
        #expect(warmUp?["max_tokens"] as? Int == 1 && (warmUp?["prompt"] as? String)?.hasPrefix("A conversation with vx") == true,
                "the warm-up evaluates the system text every prompt starts with")
        let request = try JSONSerialization.jsonObject(with: Data(try #require(posted.last))) as? [String: Any]
        #expect((request?["prompt"] as? String)?.hasSuffix("User: Hi\nAssistant:") == true, "a completion prompt for the base model")
        #expect(request?["stop"] as? [String] == ["\n\n", "\nUser:", "\nAssistant:"])
        let pid = try #require(Int32(try String(contentsOf: pidfile, encoding: .utf8)))
        #expect(!Self.isAlive(pid), "the server outlived vx-llm")
        #expect(result.stderr.contains("server.url=http://127.0.0.1:"), "\(result.stderr)")
        #expect(result.stderr.contains("stopped the llama.cpp server"))
    }

    @Test(arguments: [("TERM", false), ("TERM", true), ("KILL", false)])
    func localServerGoesWhenVXLLMIsSignalled(signal: String, serverIgnoresTerm: Bool) throws {
        let (python, model) = try standInVenv()
        let pidfile = dir.appendingPathComponent("server.pid")
        var arguments = ["--llm-server-python", python, "--gguf", model, "--no-session", "--log-level", "info",
                         "--server-arg=--pidfile=\(pidfile.path)"]
        if serverIgnoresTerm { arguments.append("--server-arg=--ignore-term") }
        let tool = try Running(Tool.path("vx-llm"), arguments)
        #expect(tool.waitForStderr(containing: "llama.cpp server ready", seconds: 30), "\(tool.stderr)")
        let pid = try #require(Int32(try String(contentsOf: pidfile, encoding: .utf8)))
        #expect(Self.isAlive(pid))

        kill(tool.pid, signal == "TERM" ? SIGTERM : SIGKILL)
        let status = tool.waitForExit(seconds: 15)
        if signal == "TERM" {
            #expect(status == 0, "\(tool.stderr)")
            #expect(tool.stderr.contains("stopped the llama.cpp server"))
            #expect(!tool.stderr.contains("had died"), "a server we stopped did not die: \(tool.stderr)")
        }
        var gone = false
        for _ in 0..<1000 where !gone {  // at most 10 s: the kernel's death signal is immediate
            gone = !Self.isAlive(pid)
            if !gone { usleep(10_000) }
        }
        #expect(gone, "the server (pid \(pid)) outlived vx-llm after SIG\(signal)")
        if !gone { kill(pid, SIGKILL) }
    }

    // MARK: The real local model

    @Test func realLocalModelAnswersAndItsServerIsGoneAfterwards() throws {
        let python = Tool.root.appendingPathComponent(".local/llm/bin/python").path
        let model = Tool.root.appendingPathComponent(".local/models/gemma-3-270m-q4_k_m.gguf").path
        guard FileManager.default.fileExists(atPath: python), FileManager.default.fileExists(atPath: model) else {
            Issue.record("""
                NOT TESTED: the local model server or model is not installed (\(python), \(model)). \
                Install them with `scripts/setup-llm` (10-20 minutes the first time), then run the tests again.
                """)
            return
        }
        let result = try Tool.run("vx-llm", ["--no-session", "--log-level", "info"],
                                  stdin: Data(Self.transcript("What is the capital of France?").utf8), timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let events = try events(result)
        let chunks = events.filter { $0.type == "reply-chunk" }
        let reply = try #require(events.last)
        #expect(!chunks.isEmpty && reply.type == "reply", "\(events.map(\.jsonText)) \(result.stderr)")
        #expect(reply["error"] == nil, "\(reply.jsonText) \(result.stderr)")
        let text = reply["text"]?.string ?? ""
        #expect(!text.isEmpty, "\(reply.jsonText)")
        #expect(reply["backend"] == "local" && reply["model"] == "gemma-3-270m-q4_k_m")
        let pidText = try #require(result.stderr.firstMatch(of: /starting the llama.cpp server.* server.pid=(\d+)/)?.1)
        #expect(!Self.isAlive(try #require(Int32(pidText))), "the llama.cpp server outlived vx-llm")
    }

    // MARK: Helpers

    /// True if `pid` runs (a zombie counts as gone: it has ended and waits to be reaped).
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)...].prefix(1)
        return state != "Z" && state != "X"
    }

    static func deadPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A tool left running (stdin open, nothing written), its stderr collected as it comes.
    final class Running: @unchecked Sendable {
        let process = Process()
        let input = Pipe()
        private let collected = Mutex("")
        private let ended = Mutex(false)
        var pid: Int32 { process.processIdentifier }
        var stderr: String { collected.withLock { $0 } }

        init(_ path: String, _ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
            let errors = Pipe()
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            Thread.detachNewThread { [self] in
                while case let data = errors.fileHandleForReading.availableData, !data.isEmpty {
                    collected.withLock { $0 += String(decoding: data, as: UTF8.self) }
                }
                ended.withLock { $0 = true }
            }
        }

        func waitForStderr(containing text: String, seconds: Double) -> Bool {
            for _ in 0..<Int(seconds * 100) {
                if stderr.contains(text) { return true }
                if !process.isRunning { return stderr.contains(text) }
                usleep(10_000)
            }
            return false
        }

        /// The exit status, or nil (after killing it) if it did not exit in time. Its stderr has
        /// then been read to the end.
        func waitForExit(seconds: Double) -> Int32? {
            for _ in 0..<Int(seconds * 100) where process.isRunning || !ended.withLock({ $0 }) { usleep(10_000) }
            guard !process.isRunning else {
                kill(pid, SIGKILL)
                process.waitUntilExit()
                return nil
            }
            return process.terminationStatus
        }

        deinit {
            if process.isRunning { kill(pid, SIGKILL) }
            try? input.fileHandleForWriting.close()
        }
    }
}

/// A tool fed on stdin by the test while it runs, its stdout read as frames as they come.
final class FramesIn: @unchecked Sendable {
    let process = Process()
    private let input = Pipe(), output = Pipe()
    private let collected = Mutex("")
    private var decoder = FrameDecoder()
    private var pending: [Event] = []
    var stderr: String { collected.withLock { $0 } }

    init(_ path: String, _ arguments: [String]) throws {
        let errors = Pipe()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        Thread.detachNewThread { [self] in
            while case let data = errors.fileHandleForReading.availableData, !data.isEmpty {
                collected.withLock { $0 += String(decoding: data, as: UTF8.self) }
            }
        }
    }

    func write(_ text: String) { try? input.fileHandleForWriting.write(contentsOf: Data(text.utf8)) }
    func closeInput() { try? input.fileHandleForWriting.close() }

    /// The next event that satisfies `wanted` (skipping the others), or nil at the end of the output.
    func next(_ wanted: (Event) -> Bool) -> Event? {
        while true {
            while !pending.isEmpty {
                let event = pending.removeFirst()
                if wanted(event) { return event }
            }
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { return nil }
            decoder.append(contentsOf: data)
            while let frame = try? decoder.next() { if let event = frame.event { pending.append(event) } }
        }
    }

    /// The exit status, once the output has ended (after `closeInput`).
    func waitForExit() -> Int32 {
        while next({ _ in false }) != nil {}
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? input.fileHandleForWriting.close()
    }
}
