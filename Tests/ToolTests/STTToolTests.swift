import Foundation
import Testing
import VXShared

/// vx-stt run as a user runs it: real speech (a human recording, flite
/// sentences), the real pocketsphinx engine, real pipes, vx-capture and vx-vad upstream.
@Suite(.serialized) struct STTToolTests {
    let dir: URL
    init() throws { dir = try Tool.temporaryDirectory() }

    static let goForward = "/usr/share/pocketsphinx/test/data/goforward.raw"

    /// Runs `vx-capture ARGS | [vx-vad |] vx-stt STTARGS` with pipefail.
    func pipeline(capture: [String], vad: Bool = false, stt: [String] = []) throws -> Tool.Result {
        var script = "set -o pipefail; \"$0\" \(capture.map { "'\($0)'" }.joined(separator: " "))"
        if vad { script += " | \"$1\"" }
        script += " | \"$2\" \(stt.map { "'\($0)'" }.joined(separator: " "))"
        return try Tool.shell(["bash", "-c", script, Tool.path("vx-capture"), Tool.path("vx-vad"), Tool.path("vx-stt")],
                              timeout: 120)
    }

    /// `text` spoken by flite into a 16 kHz WAV.
    func speak(_ text: String, _ name: String) throws -> URL {
        let voices = try Tool.shell(["flite", "-lv"]).stdoutText
        let voice = ["kal16", "kal", "slt"].first { voices.contains($0) } ?? "kal16"
        let raw = dir.appendingPathComponent("\(name)-flite.wav"), wav = dir.appendingPathComponent("\(name).wav")
        let spoken = try Tool.shell(["flite", "-voice", voice, "-t", text, "-o", raw.path])
        try #require(spoken.status == 0, "flite failed: \(spoken.stderr)")
        let converted = try Tool.shell(["sox", raw.path, "-r", "16000", "-c", "1", "-b", "16", wav.path])
        try #require(converted.status == 0, "sox failed: \(converted.stderr)")
        return wav
    }

    /// Joins sound files with `gap` seconds of silence before, between and after them.
    func join(_ parts: [URL], gap: Double, into name: String) throws -> URL {
        let silence = dir.appendingPathComponent("silence-\(gap).wav")
        _ = try Tool.shell(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", silence.path, "trim", "0", "\(gap)"])
        let out = dir.appendingPathComponent(name)
        let inputs = [silence.path] + parts.flatMap { [$0.path, silence.path] }
        let joined = try Tool.shell(["sox"] + inputs + [out.path])
        try #require(joined.status == 0, "sox failed: \(joined.stderr)")
        return out
    }

    @Test(arguments: [[], ["--search", "two-pass"]])
    func humanRecordingWithoutVADIsOneTranscriptOfTheStretch(search: [String]) throws {
        let result = try Tool.shell(["bash", "-c", "set -o pipefail; \"$0\" --raw < \"$1\" | \"$2\" \"${@:3}\"",
                                     Tool.path("vx-capture"), Self.goForward, Tool.path("vx-stt")] + search, timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "nothing on stderr at the default log level: \(result.stderr)")
        let frames = try decodeFrames(result.stdout)
        #expect(frames.allSatisfy { $0.event != nil }, "audio is consumed")
        let events = frames.compactMap(\.event)
        let transcript = try #require(events.last)
        #expect(transcript.type == "transcript")
        #expect(transcript["text"] == "go forward ten meters")
        #expect(transcript["engine"] == "pocketsphinx")
        let finalMs = try #require(transcript["final_ms"]?.int, "final_ms: the engine's time after the end")
        #expect(finalMs >= 0 && finalMs < 5_000, "final_ms \(finalMs)")
        #expect(transcript["start_ns"] == 0)
        #expect(transcript["end_ns"] == 2_786_250_000)  // 44 580 samples: the audio-stop
        #expect(events.dropLast().allSatisfy { $0.type == "transcript-chunk" } && events.count > 1)
    }

    @Test func userPipelineWithVADGivesTwoTranscriptsInOrderWithChunksBeforeEach() throws {
        let sentences = ["please turn off the lights in the kitchen", "what is the weather like today"]
        let wav = try join([try speak(sentences[0], "one"), try speak(sentences[1], "two")], gap: 1.5,
                           into: "two_utterances.wav")
        let result = try pipeline(capture: [wav.path], vad: true)
        #expect(result.status == 0, "\(result.stderr)")
        let events = try decodeFrames(result.stdout).compactMap(\.event)
        let types = events.map(\.type)
        #expect(!types.contains("audio-start") && !types.contains("audio-stop"))
        let started = types.indices.filter { types[$0] == "voice-started" }
        let stopped = types.indices.filter { types[$0] == "voice-stopped" }
        let finals = types.indices.filter { types[$0] == "transcript" }
        try #require(finals.count == 2, "events: \(types)")
        try #require(started.count == 2 && stopped.count == 2, "events: \(types)")
        for (i, sentence) in sentences.enumerated() {
            let transcript = events[finals[i]]
            let text = transcript["text"]?.string ?? ""
            #expect(wordErrors(sentence, text) <= 1, "\"\(text)\" for \"\(sentence)\"")
            #expect(finals[i] > stopped[i], "transcript \(i + 1) after its voice-stopped")
            let previous = i == 0 ? -1 : finals[i - 1]
            #expect(types[(previous + 1)..<finals[i]].contains("transcript-chunk"), "chunks before transcript \(i + 1)")
            #expect(transcript["start_ns"] == events[started[i]]["preroll_ns"])
            #expect(transcript["end_ns"] == events[stopped[i]]["timestamp_ns"])
        }
    }

    @Test func voiceEventsMadeByHandMarkTheUtterance() throws {
        // 1 s of silence, the recording, 1 s of silence; speech marked from 0.9 s (pre-roll 0.7 s) to 3.6 s.
        let speech = try Data(contentsOf: URL(fileURLWithPath: Self.goForward))
        let silence = Data(count: 32_000)
        let pcm = [UInt8](silence + speech + silence)
        var frames: [Frame] = [.event(.audioStart(.pipeline, timestamp: 0))]
        let chunk = 640
        var voiceEventsAt: [Int: [Frame]] = [
            1_000_000_000: [.event(Event("voice-started", ["timestamp": 900, "timestamp_ns": 900_000_000, "preroll_ns": 700_000_000]))],
            2_000_000_000: [.event(Event("ping", ["text": "still there?"]))],
            4_000_000_000: [.event(Event("voice-stopped", ["timestamp": 3_600, "timestamp_ns": 3_600_000_000, "reason": "silence"]))],
        ]
        for offset in stride(from: 0, to: pcm.count, by: chunk) {
            let ns = UInt64(offset / 2) * 62_500
            frames += voiceEventsAt.removeValue(forKey: Int(ns)) ?? []
            frames.append(.audio(AudioChunk(timestamp: ns, pcm: Array(pcm[offset..<min(offset + chunk, pcm.count)]))))
        }
        frames.append(.event(.audioStop(timestamp: UInt64(pcm.count / 2) * 62_500)))
        var input: [UInt8] = []
        for frame in frames { FrameEncoder.encode(frame, into: &input) }

        let result = try Tool.run("vx-stt", ["--segmentation", "voice"], stdin: Data(input), timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let events = try decodeFrames(result.stdout).compactMap(\.event)
        #expect(events.map(\.type).filter { $0 != "transcript-chunk" } == ["voice-started", "ping", "voice-stopped", "transcript"])
        let transcript = try #require(events.last)
        #expect(transcript["text"] == "go forward ten meters")
        #expect(transcript["start_ns"] == 700_000_000)
        #expect(transcript["end_ns"] == 3_600_000_000)
    }

    @Test func eachStretchIsAnUtteranceWithoutVAD() throws {
        let one = try speak("set an alarm for seven in the morning", "one")
        let two = try speak("call my mother tomorrow afternoon", "two")
        let result = try pipeline(capture: [one.path, two.path])
        #expect(result.status == 0, "\(result.stderr)")
        let finals = try decodeFrames(result.stdout).compactMap(\.event).filter { $0.type == "transcript" }
        try #require(finals.count == 2)
        #expect(wordErrors("set an alarm for seven in the morning", finals[0]["text"]?.string ?? "") <= 1)
        #expect(wordErrors("call my mother tomorrow afternoon", finals[1]["text"]?.string ?? "") <= 1)
        #expect(finals[0]["start_ns"] == 0)
        #expect(finals[1]["start_ns"] == finals[0]["end_ns"], "the second stretch starts where the first stopped")
    }

    @Test func audioInAnotherFormatIsConvertedBeforeDecoding() throws {
        let result = try Tool.shell(["bash", "-c", "set -o pipefail; \"$0\" --raw --rate 44100 --channels 2 < \"$1\" | \"$2\"",
                                     Tool.path("vx-capture"), Self.goForward, Tool.path("vx-stt")], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let finals = try decodeFrames(result.stdout).compactMap(\.event).filter { $0.type == "transcript" }
        #expect(finals.map { $0["text"] } == ["go forward ten meters"])
    }

    @Test func silenceOnlyGivesNoTranscriptAndNoOutput() throws {
        let wav = dir.appendingPathComponent("silence.wav")
        _ = try Tool.shell(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", wav.path, "synth", "3", "whitenoise", "vol", "0.001"])
        let result = try pipeline(capture: [wav.path])
        #expect(result.status == 0, "\(result.stderr)")
        let frames = try decodeFrames(result.stdout)
        #expect(frames.isEmpty, "\(frames)")
    }

    @Test func logsDecodeTimeAndRealTimeFactorPerUtterance() throws {
        let result = try Tool.shell(["bash", "-c", "set -o pipefail; \"$0\" --raw < \"$1\" | \"$2\" --log-level info",
                                     Tool.path("vx-capture"), Self.goForward, Tool.path("vx-stt")], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        let utterance = try #require(lines.first { $0.contains("msg=transcribed") }, "\(result.stderr)")
        for field in ["utterance.final_ms=", "utterance.finish_ms=", "utterance.rtf=", "utterance.audio_ms=2786", "tool=vx-stt"] {
            #expect(utterance.contains(field), "\(utterance)")
        }
        // The decoder's arguments, so pocketsphinx_continuous can be run the same way (scripts/bench-speech).
        let ready = try #require(lines.first { $0.contains("msg=\"engine ready\"") }, "\(result.stderr)")
        #expect(ready.contains("pocketsphinx.search=one-pass"), "\(ready)")
        #expect(ready.contains("pocketsphinx.args=\"-hmm "), "\(ready)")
        #expect(lines.allSatisfy { $0.hasPrefix("ts=") }, "every stderr line is a vx log record: \(result.stderr)")
    }

    @Test func sigtermWhileInputIsStillOpenExitsZero() throws {
        let frames = try Tool.shell(["bash", "-c", "\"$0\" --raw < \"$1\"", Tool.path("vx-capture"), Self.goForward])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Tool.path("vx-stt"))
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: frames.stdout)  // and the input stays open
        var received = Data()
        while !(try decodeFrames(received).contains { $0.event?.type == "transcript" }) {
            let more = output.fileHandleForReading.availableData
            try #require(!more.isEmpty, "vx-stt ended before its transcript")
            received += more
        }
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        #expect(String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).isEmpty)
    }

    @Test func inputThatIsNotAFrameStreamExits65WithOneLine() throws {
        let result = try Tool.run("vx-stt", [], stdin: Data("RIFF$\u{7d}\0\0WAVEfmt ".utf8))
        #expect(result.status == 65)
        #expect(result.stderr.hasPrefix("vx-stt: input is not a vx frame stream"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test(arguments: [["--lm", "/nonexistent/model.lm.bin"], ["--dict", "/nonexistent/words.dict"], ["--hmm", "/nonexistent/en-us"]])
    func missingModelFileExits66NamingIt(arguments: [String]) throws {
        let result = try Tool.run("vx-stt", arguments)
        #expect(result.status == 66)
        #expect(result.stderr.hasPrefix("vx-stt: cannot read the "), "\(result.stderr)")
        #expect(result.stderr.contains(arguments[1]))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stdout.isEmpty)
    }

    @Test func modelPocketsphinxCannotLoadExits69WithOneLine() throws {
        for name in ["mdef", "means", "variances", "transition_matrices"] {
            try Data("not a model\n".utf8).write(to: dir.appendingPathComponent(name))
        }
        let result = try Tool.run("vx-stt", ["--hmm", dir.path])
        #expect(result.status == 69)
        #expect(result.stderr.hasPrefix("vx-stt: cannot load the speech model"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test func badOptionValueExits64() throws {
        let result = try Tool.run("vx-stt", ["--partial-interval", "-5"])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("vx-stt: "))
        #expect(try Tool.run("vx-stt", ["--engine", "whisper"]).status == 64)
        #expect(try Tool.run("vx-stt", ["--search", "fast"]).status == 64)
    }

    @Test func helpShowsTheUsersPipelines() throws {
        let result = try Tool.run("vx-stt", ["--help"])
        #expect(result.status == 0)
        #expect(result.stdoutText.contains("vx-capture --realtime question.wav | vx-vad | vx-stt"))
        #expect(result.stdoutText.contains("vx-capture goforward.wav | vx-stt"))
        #expect(result.stdoutText.contains("--partial-interval"))
        #expect(result.stdoutText.contains("--search"))
    }
}

/// Word-level edit distance, ignoring case and punctuation.
private func wordErrors(_ reference: String, _ hypothesis: String) -> Int {
    func words(_ s: String) -> [Substring] {
        s.lowercased().split { !($0.isLetter || $0.isNumber || $0 == "'") }
    }
    let a = words(reference), b = words(hypothesis)
    var row = Array(0...b.count)
    for i in a.indices {
        var next = [i + 1] + [Int](repeating: 0, count: b.count)
        for j in b.indices { next[j + 1] = min(row[j + 1] + 1, next[j] + 1, row[j] + (a[i] == b[j] ? 0 : 1)) }
        row = next
    }
    return row[b.count]
}
