import Foundation
import Testing
import VXShared

/// vx-chat run as a user runs it: the built supervisor and the six real stages (pocketsphinx,
/// flite, vx-llm against the scripted fake server or the local model, or the scripted LLM
/// fixture standing in for vx-llm), a spoken question file in, an answer WAV out.
@Suite(.serialized) struct ChatToolTests {
    /// A chat in a directory of its own: question files, answer, log, turns, session, sockets.
    struct Chat {
        let dir: URL
        var runtime: String { dir.appendingPathComponent("rt").path }
        var log: URL { dir.appendingPathComponent("chat.log") }
        var turnsFile: URL { dir.appendingPathComponent("turns.jsonl") }
        var session: URL { dir.appendingPathComponent("session.jsonl") }
        var answer: URL { dir.appendingPathComponent("answer.wav") }

        init() throws { dir = try Tool.temporaryDirectory() }

        /// vx-chat's arguments for file mode on `input`, with everything written into `dir`.
        func arguments(_ input: URL, _ extra: [String] = []) -> [String] {
            ["--input", input.path, "--output", answer.path, "--log-file", log.path, "--turns-file", turnsFile.path,
             "--runtime-dir", runtime, "--session", session.path, "--view", "plain", "--log-level", "notice"] + extra
        }

        /// The turn records vx-chat wrote.
        func turns() throws -> [[String: Any]] { try jsonLines(turnsFile) }

        /// The session file: the conversation as vx-llm keeps it.
        func history() throws -> [[String: Any]] { try jsonLines(session) }

        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// Starts vx-chat with `arguments` (its output unread) and waits, up to a minute, for its log
        /// to say it is ready.
        func launch(_ arguments: [String]) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Tool.path("vx-chat"))
            process.arguments = arguments
            process.standardError = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(60)
            while !logText().contains("tool=vx-chat msg=ready") && Date() < deadline && process.isRunning { usleep(50_000) }
            return process
        }

        /// Processes still running whose command line names this chat's runtime directory.
        func leftovers() throws -> String {
            try Tool.shell(["sh", "-c", "pgrep -af -- '\(runtime)' | grep -v pgrep || true"]).stdoutText
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func jsonLines(_ url: URL) throws -> [[String: Any]] {
            guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
            return try data.split(separator: UInt8(ascii: "\n")).map {
                try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] ?? [:]
            }
        }
    }

    enum Part {
        case say(String)
        case silence(Double)
    }

    /// A question file: flite's kal16 voice (16 kHz) and silences, joined by sox.
    static func speech(_ parts: [Part], to url: URL) throws {
        var files: [String] = []
        for (i, part) in parts.enumerated() {
            let piece = url.deletingLastPathComponent().appendingPathComponent("part-\(i).wav").path
            switch part {
            case .say(let text):
                let r = try Tool.shell(["flite", "-voice", "kal16", "-t", text, "-o", piece])
                try #require(r.status == 0, "flite: \(r.stderr)")
            case .silence(let seconds):
                let r = try Tool.shell(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", piece, "trim", "0", "\(seconds)"])
                try #require(r.status == 0, "sox: \(r.stderr)")
            }
            files.append(piece)
        }
        let r = try Tool.shell(["sox"] + files + [url.path])
        try #require(r.status == 0, "sox: \(r.stderr)")
    }

    /// What pocketsphinx hears in a WAV file, through vx-capture and vx-stt.
    static func transcribe(_ url: URL) throws -> String {
        let r = try Tool.shell(["sh", "-c", "'\(Tool.path("vx-capture"))' '\(url.path)' | '\(Tool.path("vx-stt"))' --segmentation stretch | '\(Tool.path("vx-play"))' --text"])
        let texts = r.stdoutText.split(separator: "\n").compactMap { line -> String? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  object["type"] as? String == "transcript", let data = object["data"] as? [String: Any] else { return nil }
            return data["text"] as? String
        }
        return texts.joined(separator: " ")
    }

    static let fixture = Tool.root.appendingPathComponent("Tests/Fixtures/scripted_llm.py").path

    // MARK: File mode

    @Test func aScriptedLLMStandsInForVxLLMAndItsReplyIsSpoken() throws {
        let chat = try Chat()
        let question = chat.dir.appendingPathComponent("question.wav")
        try Self.speech([.silence(0.7), .say("What is the capital of France?"), .silence(2.5)], to: question)
        let reply = "Paris is the capital of France."
        let result = try Tool.run("vx-chat", chat.arguments(question, ["--llm-command", Self.fixture, "--llm-arg=--reply", "--llm-arg=\(reply)"]),
                                  timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let turns = try chat.turns()
        try #require(turns.count == 1, "\(result.stderr)\n\(chat.logText())")
        #expect((turns[0]["text"] as? String)?.contains("capital") == true)
        // The answer's first sample was played after the question ended: voice-to-voice is positive.
        let v2v = try #require(turns[0]["v2v_ms"] as? Double)
        #expect(v2v > 0)
        print("scripted fixture turn: v2v \(v2v) ms, with silence \(turns[0]["v2v_with_silence_ms"] ?? "?") ms")
        let heard = try Self.transcribe(chat.answer)
        let wer = WordErrors.rate(reference: reply, hypothesis: heard)
        #expect(wer <= 0.25, "the answer WAV says '\(heard)', not '\(reply)' (WER \(wer))")
        #expect(result.stderr.contains("msg=turn"), "one line per turn")
        #expect(result.stderr.contains("voice-to-voice p50"), "the summary at exit")
        #expect(!FileManager.default.fileExists(atPath: chat.runtime), "the runtime directory is removed")
        #expect(try chat.leftovers().isEmpty)
    }

    @Test func theLocalModelAnswersASpokenQuestion() throws {
        guard FileManager.default.fileExists(atPath: Tool.root.appendingPathComponent(".local/models/gemma-3-270m-q4_k_m.gguf").path) else {
            Issue.record("the local model is not installed: run scripts/setup-llm (scripts/test does)")
            return
        }
        let chat = try Chat()
        let question = chat.dir.appendingPathComponent("question.wav")
        try Self.speech([.silence(0.7), .say("What is the capital of France?"), .silence(2.0)], to: question)
        let result = try Tool.run("vx-chat", chat.arguments(question, ["--llm-arg=--max-tokens", "--llm-arg=40"]), timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let turns = try chat.turns()
        #expect(turns.count == 1, "\(result.stderr)")
        let heard = try Self.transcribe(chat.answer)
        #expect(!heard.isEmpty, "the answer WAV holds speech")
        print("local model answer, as pocketsphinx hears it: \(heard)")
        let history = try chat.history()
        #expect(history.contains { $0["role"] as? String == "assistant" })
    }

    // MARK: Barge-in

    @Test func speakingOverTheReplyCutsItAndTheHistoryKeepsWhatWasHeard() throws {
        let chat = try Chat()
        let long = "The story begins in a small village by the sea. Every morning the fishermen went out in their boats. "
            + "They came back at night with their nets full of fish. The children ran down to the harbour to meet them. "
            + "One day a storm came from the west and the boats did not come back."
        let server = try LLMToolTests.Fixture([
            LLMToolTests.chatStream(long.split(separator: " ").map { $0 + " " }),
            LLMToolTests.chatStream(["It is ", "noon."]),
        ], in: chat.dir)
        let question = chat.dir.appendingPathComponent("question.wav")
        // The reply starts playing about 0.8 s after the first question ends; the second question
        // comes some 2 s into it.
        try Self.speech([.silence(0.7), .say("Tell me a story."), .silence(3.0), .say("What time is it?"), .silence(4.0)], to: question)
        let result = try Tool.run("vx-chat", chat.arguments(question, [
            "--llm-arg=--backend", "--llm-arg=openai", "--llm-arg=--url", "--llm-arg=\(server.url)",
        ]), timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let log = chat.logText()
        let barge = log.split(separator: "\n").first { $0.contains("tool=vx-chat msg=barge-in") }
        let line = try #require(barge, "no barge-in in the log:\n\(result.stderr)")
        let figure = line.split(separator: " ").first { $0.hasPrefix("onset_to_silence_ms=") }
            .flatMap { Double($0.dropFirst("onset_to_silence_ms=".count)) }
        let ms = try #require(figure)
        print("barge-in: speech onset to silence \(ms) ms (goal 150)")
        #expect(ms < 1000, "playback stopped soon after the user spoke")
        let history = try chat.history()
        let assistant = history.filter { $0["role"] as? String == "assistant" && $0["refines"] == nil }
        let refinements = history.filter { $0["refines"] != nil }
        try #require(assistant.count == 2, "\(history)")
        // The refinement names the first reply: on reading, the history holds what was heard of it.
        #expect(refinements.count == 1 && refinements.first?["refines"] as? String == assistant[0]["id"] as? String, "\(history)")
        let heard = try #require(refinements.first?["text"] as? String, "\(history)")
        #expect(!heard.isEmpty && long.hasPrefix(heard) && heard.count < long.count, "heard: '\(heard)'")
        #expect((assistant[1]["text"] as? String) == "It is noon.")
        let requests = try server.requests()
        try #require(requests.count == 2)
        let messages = (requests[1]["json"] as? [String: Any])?["messages"] as? [[String: Any]] ?? []
        let sent = messages.compactMap { $0["content"] as? String }.joined(separator: "\n")
        #expect(sent.contains(heard) && !sent.contains("the boats did not come back"),
                "the second request carries what was heard, not the whole first reply: \(sent)")
    }

    /// `--echo=-6`: vx-play's copy of what it plays comes back into vx-capture's input, 6 dB down, as a
    /// speaker heard by the microphone. With the echo gate it neither interrupts nor starts a turn; with
    /// the gate off (`--echo-margin=0`), the same echo cuts the assistant off.
    @Test(arguments: [10, 0])
    func theAssistantsOwnEchoDoesNotInterruptItUnlessTheGateIsOff(margin: Int) throws {
        let reply = "Paris is the capital of France. It is a large city on the river Seine."
        let chat = try Chat()
        let question = chat.dir.appendingPathComponent("question.wav")
        try Self.speech([.silence(0.7), .say("What is the capital of France?"), .silence(6.0)], to: question)
        let result = try Tool.run("vx-chat", chat.arguments(question, [
            "--llm-command", Self.fixture, "--llm-arg=--reply", "--llm-arg=\(reply)", "--echo=-6", "--vad-arg=--echo-margin=\(margin)",
        ]), timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let log = chat.logText()
        let turns = try chat.turns()
        let bargeIns = log.split(separator: "\n").filter { $0.contains("tool=vx-chat msg=barge-in") }.count
        print("simulated speaker-to-mic echo at -6 dB, echo margin \(margin) dB: \(turns.count - 1) false turns, \(bargeIns) false barge-ins")
        if margin > 0 {
            #expect(turns.count == 1 && bargeIns == 0, "\(log)")
            let spoken = try Self.transcribe(chat.answer)
            #expect(WordErrors.rate(reference: reply, hypothesis: spoken) <= 0.35, "the answer played whole: '\(spoken)'")
        } else {
            #expect(bargeIns >= 1, "without the gate the echo is loud enough to interrupt: \(log)")
        }
    }

    // MARK: Restarts

    @Test func killingEachStageInTurnLosesNoTurn() throws {
        let chat = try Chat()
        let questions = ["What is one plus one?", "What is two plus two?", "What is three plus three?",
                         "What is four plus four?", "What is five plus five?", "What is six plus six?", "What is seven plus seven?"]
        let server = try LLMToolTests.Fixture(questions.indices.map { LLMToolTests.chatStream(["Answer ", "number \($0 + 1)."]) },
                                              in: chat.dir)
        var parts: [Part] = [.silence(0.7)]
        for q in questions { parts += [.say(q), .silence(6.0)] }
        let question = chat.dir.appendingPathComponent("question.wav")
        try Self.speech(parts, to: question)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Tool.path("vx-chat"))
        process.arguments = chat.arguments(question, [
            "--llm-arg=--backend", "--llm-arg=openai", "--llm-arg=--url", "--llm-arg=\(server.url)",
        ])
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stderrData = Locked(Data())
        DispatchQueue.global().async { stderrData.value = errors.fileHandleForReading.readDataToEndOfFile() }
        // After turn k has been answered and played, kill the k-th stage with SIGKILL.
        let victims: [(String, String)] = [
            ("vad", "listen:\(chat.runtime)/vad.sock"), ("stt", "listen:\(chat.runtime)/stt.sock"),
            ("llm", "listen:\(chat.runtime)/llm.sock"), ("tts", "listen:\(chat.runtime)/tts.sock"),
            ("play", "listen:\(chat.runtime)/play.sock"), ("capture", "connect:\(chat.runtime)/vad.sock"),
        ]
        for (k, (name, marker)) in victims.enumerated() {
            let deadline = Date().addingTimeInterval(60)
            while try chat.turns().count < k + 1 && Date() < deadline && process.isRunning { usleep(100_000) }
            try #require(try chat.turns().count >= k + 1, "turn \(k + 1) never came:\n\(chat.logText())")
            usleep(2_500_000)  // the short reply has played
            let pids = try Tool.shell(["pgrep", "-f", "--", "--(from|to) \(marker)( |$)"]).stdoutText
                .split(separator: "\n").compactMap { Int32($0) }
            try #require(!pids.isEmpty, "no \(name) process to kill")
            for pid in pids { kill(pid, SIGKILL) }
        }
        process.waitUntilExit()
        let stderr = String(decoding: stderrData.value, as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(stderr)")
        let users = try chat.history().filter { $0["role"] as? String == "user" }.compactMap { $0["text"] as? String }
        let replies = try chat.history().filter { $0["role"] as? String == "assistant" && $0["refines"] == nil }
            .compactMap { $0["text"] as? String }
        #expect(users.count == questions.count, "every question once, in order: \(users)")
        #expect(replies == questions.indices.map { "Answer number \($0 + 1)." }, "\(replies)")
        // The answers the killed vx-play had written are kept: all seven are in the answer file.
        let answers = try Self.transcribe(chat.answer)
        #expect(WordErrors.words(answers).filter { $0 == "answer" }.count >= 6, "the answer file says: \(answers)")
        let strays = try FileManager.default.contentsOfDirectory(atPath: chat.dir.path).filter { $0.hasPrefix(".answer") }
        #expect(strays.isEmpty, "\(strays)")
        for name in ["vx-vad", "vx-stt", "vx-llm", "vx-tts", "vx-play", "vx-capture"] {
            #expect(chat.logText().contains("msg=\"restarted \(name)\""), "\(name) was restarted")
        }
        #expect(try chat.leftovers().isEmpty)
    }

    @Test func aStageThatKeepsFailingStopsTheChatNamingIt() throws {
        let chat = try Chat()
        let question = chat.dir.appendingPathComponent("question.wav")
        try Self.speech([.silence(0.5), .say("Hello."), .silence(1.0)], to: question)
        let crasher = chat.dir.appendingPathComponent("crasher.sh")
        try "#!/bin/sh\necho 'crasher: the voice engine is on fire' >&2\nexit 3\n".write(to: crasher, atomically: true, encoding: .utf8)
        chmod(crasher.path, 0o755)
        let result = try Tool.run("vx-chat", chat.arguments(question, [
            "--tts-command", crasher.path, "--max-restarts", "2", "--restart-window", "60",
        ]), timeout: 60)
        #expect(result.status == 69, "\(result.stderr)")
        #expect(result.stderr.contains("vx-chat: vx-tts failed 3 times within 60 s (max_restarts 2); last: exit status 3"),
                "\(result.stderr)")
        #expect(result.stderr.contains("crasher: the voice engine is on fire"), "its last lines are shown")
        #expect(!FileManager.default.fileExists(atPath: chat.runtime))
        #expect(try chat.leftovers().isEmpty)
    }

    // MARK: Stopping

    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalStopsEveryStageAndRemovesTheSockets(signal: Int32) throws {
        let chat = try Chat()
        let question = chat.dir.appendingPathComponent("question.wav")
        try Self.speech([.silence(0.5), .say("Hello there."), .silence(20.0)], to: question)
        let process = try chat.launch(chat.arguments(question, ["--llm-command", Self.fixture]))
        try #require(chat.logText().contains("tool=vx-chat msg=ready"), "\(chat.logText())")
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + signal)
        #expect(chat.logText().contains("stopped by signal \(signal)"))
        #expect(!FileManager.default.fileExists(atPath: chat.runtime), "sockets and directory removed")
        #expect(try chat.leftovers().isEmpty, "no stage outlives vx-chat")
    }

    @Test func liveModeCapturesAndPlaysOnALSADevices() throws {
        let chat = try Chat()
        let process = try chat.launch(["--device", "null", "--output-device", "null", "--llm-command", Self.fixture,
                                       "--view", "plain", "--log-file", chat.log.path, "--runtime-dir", chat.runtime])
        try #require(chat.logText().contains("tool=vx-chat msg=ready listening=null"), "\(chat.logText())")
        let capture = try Tool.shell(["pgrep", "-af", "--", "vx-capture --to connect:\(chat.runtime)/vad.sock --device null"]).stdoutText
        #expect(!capture.isEmpty, "vx-capture reads the ALSA device")
        let play = try Tool.shell(["pgrep", "-af", "--", "vx-play --from listen:\(chat.runtime)/play.sock .*--device null"]).stdoutText
        #expect(!play.isEmpty, "vx-play plays on the ALSA device")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + SIGTERM)
        #expect(try chat.leftovers().isEmpty)
    }

    // MARK: Usage

    @Test func withoutASoundCardItPointsToFileMode() throws {
        let cards = (try? String(contentsOfFile: "/proc/asound/cards", encoding: .utf8)) ?? ""
        guard cards.isEmpty || cards.contains("no soundcards") else { return }  // a machine with a card runs live
        let result = try Tool.run("vx-chat", ["--log-file", "/dev/null"])
        #expect(result.status == 69)
        #expect(result.stderr.contains("no sound card") && result.stderr.contains("--input question.wav --output answer.wav"))
    }

    @Test func printConfigShowsEverySettingAndItsSource() throws {
        let result = try Tool.run("vx-chat", ["--print-config", "--max-restarts", "9"], environment: ["VX_RESTART_WINDOW": "30"])
        #expect(result.status == 0)
        #expect(result.stdoutText.contains("max_restarts = 9  # from --max-restarts"))
        #expect(result.stdoutText.contains("restart_window = 30  # from VX_RESTART_WINDOW"))
        for table in ["[capture]", "[vad]", "[stt]", "[llm]", "[tts]", "[play]"] { #expect(result.stdoutText.contains(table)) }
    }
}

/// A value shared with a background reader.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

/// Word error rate, for checking what an answer WAV says.
enum WordErrors {
    static func words(_ s: String) -> [String] {
        s.lowercased().split { !$0.isLetter && !$0.isNumber && $0 != "'" }.map(String.init)
    }

    static func rate(reference: String, hypothesis: String) -> Double {
        let r = words(reference), h = words(hypothesis)
        guard !r.isEmpty else { return h.isEmpty ? 0 : 1 }
        var previous = Array(0...h.count)
        for i in 1...r.count {
            var row = [i] + Array(repeating: 0, count: h.count)
            for j in 1...max(1, h.count) where j <= h.count {
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (r[i - 1] == h[j - 1] ? 0 : 1))
            }
            previous = row
        }
        return Double(previous[h.count]) / Double(r.count)
    }
}
