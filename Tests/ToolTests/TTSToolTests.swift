import Foundation
import Testing
@testable import VXShared

/// vx-tts run as a user runs it: real flite and espeak-ng, real pipes fed a frame at a time,
/// vx-stt listening to what it says.
@Suite(.serialized) struct TTSToolTests {
    let dir: URL

    init() throws {
        dir = try Tool.temporaryDirectory()
        signal(SIGPIPE, SIG_IGN)
    }

    static func jsonLines(_ events: [Event]) -> Data {
        Data(events.map { $0.jsonText + "\n" }.joined().utf8)
    }

    static func synthesize(_ text: String, voice: String? = nil) -> Event {
        var data: [String: JSONValue] = ["text": .string(text)]
        if let voice { data["voice"] = .object(["name": .string(voice)]) }
        return Event(EventType.synthesize, data)
    }

    static func chunk(_ text: String) -> Event { Event("reply-chunk", ["text": .string(text)]) }

    // MARK: Stretches

    @Test(arguments: ["flite", "espeak"])
    func synthesizeBecomesOneStretchOfTwentyMillisecondFramesWithSpokenEvents(engine: String) throws {
        let request = Self.synthesize("Hello there. The quick brown fox jumps over the lazy dog. Goodbye.")
        let result = try Tool.run("vx-tts", ["--engine", engine, "--no-cache"], stdin: Self.jsonLines([request]))
        #expect(result.status == 0, "\(result.stderr)")
        let frames = try decodeFrames(result.stdout)
        #expect(frames.first?.event == request, "the request is forwarded first")
        let stretches = try SpeechStretch.all(in: frames)
        try #require(stretches.count == 1)
        let stretch = stretches[0]
        #expect(stretch.start == 0, "vx-tts's clock starts at 0")
        #expect(stretch.sentences == ["Hello there.", "The quick brown fox jumps over the lazy dog.", "Goodbye."])
        #expect(stretch.seconds > 3 && stretch.seconds < 8, "\(stretch.seconds) s")
        #expect(stretch.peak > 3_000, "not silence")
    }

    @Test func echoedSynthesizeIntoVxPlayMakesAWavFile() throws {
        let out = dir.appendingPathComponent("out.wav")
        let result = try Tool.shell(["bash", "-c", "set -o pipefail; echo \"$0\" | \"$1\" --no-cache | \"$2\" \"$3\"",
                                     #"{"type":"synthesize","data":{"text":"Hello there."}}"#,
                                     Tool.path("vx-tts"), Tool.path("vx-play"), out.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TestAudio.soxi(out, "-r") == 16_000)
        let seconds = try TestAudio.stat(out, "Length (seconds)")
        #expect(seconds > 0.6 && seconds < 2, "\(seconds) s")
    }

    @Test func rateFlagSetsTheOutputFormat() throws {
        let result = try Tool.run("vx-tts", ["--rate", "48000", "--no-cache"], stdin: Self.jsonLines([Self.synthesize("Hello there.")]))
        #expect(result.status == 0, "\(result.stderr)")
        let stretch = try #require(try SpeechStretch.all(in: decodeFrames(result.stdout)).first)
        #expect(stretch.format == AudioFormat(rate: 48_000, width: 2, channels: 1))
        #expect(stretch.seconds > 0.6 && stretch.seconds < 2)
    }

    @Test func stretchesFollowEachOtherOnOneClock() throws {
        let input = [Self.synthesize("First request."), Event("transcript", ["text": "hi"]), Self.synthesize("Second request.")]
        let result = try Tool.run("vx-tts", ["--no-cache"], stdin: Self.jsonLines(input))
        #expect(result.status == 0, "\(result.stderr)")
        let stretches = try SpeechStretch.all(in: decodeFrames(result.stdout))
        try #require(stretches.count == 2)
        #expect(stretches[0].start == 0)
        #expect(stretches[1].start == stretches[0].end, "the clock runs on across stretches")
    }

    // MARK: Streaming replies

    @Test func replyChunksAreSpokenAsSoonAsASentenceIsCompleteInOneStretch() throws {
        let tool = try LiveTool(["--no-cache"])
        let early = [Self.chunk("Hello"), Self.chunk(" there. I am")]
        try tool.send(early)
        // The reply is not over, yet its first sentence is heard: audio comes before the rest is sent.
        try #require(tool.read(until: { $0.contains { $0.audio != nil } }), "no audio before the reply ended")
        let late = [Self.chunk(" fine, thank"), Self.chunk(" you. And you?"),
                    Event("reply", ["text": "Hello there. I am fine, thank you. And you?"])]
        try tool.send(late)
        let (status, frames, stderr) = try tool.finish()
        #expect(status == 0, "\(stderr)")
        let events = frames.compactMap(\.event).filter { !["audio-start", "audio-stop", "spoken"].contains($0.type) }
        #expect(events == early + late, "every event forwarded, unchanged and in order")
        let stretches = try SpeechStretch.all(in: frames)
        try #require(stretches.count == 1, "one reply, one stretch")
        #expect(stretches[0].sentences == ["Hello there.", "I am fine, thank you.", "And you?"])
        let firstAudio = try #require(frames.firstIndex { $0.audio != nil })
        let lateChunk = try #require(frames.firstIndex { $0.event == late[0] })
        #expect(firstAudio < lateChunk)
        #expect(frames.last?.event?.type == "audio-stop")
    }

    @Test func replyWithoutChunksIsSpokenWhole() throws {
        let reply = Event("reply", ["text": "No chunks came. Just this.", "id": "r-2"])
        let result = try Tool.run("vx-tts", ["--no-cache"], stdin: Self.jsonLines([reply]))
        #expect(result.status == 0, "\(result.stderr)")
        let frames = try decodeFrames(result.stdout)
        #expect(try SpeechStretch.all(in: frames).map(\.sentences) == [["No chunks came.", "Just this."]])
        #expect(frames.compactMap(\.event).filter { $0.type == "spoken" }.map { $0["id"] } == ["r-2", "r-2"])
    }

    @Test func synthesizeDuringAReplyWaitsForTheReplyToEnd() throws {
        let input = [Self.chunk("First part. "), Self.synthesize("Meanwhile."), Self.chunk("Second part."),
                     Event("reply", ["text": "First part. Second part."])]
        let result = try Tool.run("vx-tts", ["--no-cache"], stdin: Self.jsonLines(input))
        #expect(result.status == 0, "\(result.stderr)")
        let stretches = try SpeechStretch.all(in: decodeFrames(result.stdout))
        #expect(stretches.map(\.sentences) == [["First part.", "Second part."], ["Meanwhile."]])
    }

    /// Each `spoken` says how long its audio took to be ready (`synth_ms`: whole milliseconds), from
    /// synthesis or from the cache, and, for a reply, the reply's `id`; a `synthesize` request has no id.
    @Test func spokenEventsCarryTheSynthesisTimeAndTheReplyID() throws {
        let long = "This rather long first sentence gives the synthesiser some real work to do before its audio is ready."
        let input = Self.jsonLines([
            Event("reply-chunk", ["text": .string(long + " Sec"), "id": "r-7"]), Event("reply-chunk", ["text": "ond one.", "id": "r-7"]),
            Event("reply", ["text": .string(long + " Second one."), "id": "r-7"]), Self.synthesize("Not a reply."),
        ])
        let cache = dir.appendingPathComponent("timing-cache")
        var runs: [[Event]] = []
        for _ in 0..<2 {
            let result = try Tool.run("vx-tts", ["--cache-dir", cache.path], stdin: input)
            #expect(result.status == 0, "\(result.stderr)")
            runs.append(try decodeFrames(result.stdout).compactMap(\.event).filter { $0.type == "spoken" })
        }
        let (made, cached) = (runs[0], runs[1])
        #expect(made.map { $0["text"]?.string } == [long, "Second one.", "Not a reply."])
        for spoken in made + cached {
            #expect(spoken["id"] == (spoken["text"] == "Not a reply." ? nil : "r-7"), "\(spoken)")
            let synth = try #require(spoken["synth_ms"]?.int, "\(spoken)")
            #expect(synth >= 0 && synth < 5_000, "\(spoken)")
        }
        // Whether a cache hit reads quicker than synthesis is a matter of wall-clock time, which a loaded
        // machine makes unreliable; that the second run is served from the cache is another test's job.
        #expect(cached.map { $0["text"]?.string } == made.map { $0["text"]?.string })
    }

    // MARK: Interrupt

    /// A long reply is cut by an interrupt while vx-tts is blocked writing its first sentence's
    /// audio (the test stops reading stdout, so the pipe fills, and reads on only once vx-tts logs
    /// that it has seen the interrupt): what the reply still had to say is never written, and the
    /// next reply is spoken in full.
    @Test(arguments: ["flite", "espeak"])
    func interruptCutsTheReplyAndTheNextReplyIsSpoken(engine: String) throws {
        let tool = try LiveTool(["--engine", engine, "--no-cache", "--log-level", "debug"])
        let sentences = (1...8).map { "This is sentence number \($0) of a reply that goes on for quite a long while." }
        try tool.send([Self.chunk(sentences.joined(separator: " ") + " And")])
        try #require(tool.read(until: { $0.contains { $0.audio != nil } }))
        // Stop reading: vx-tts fills the pipe and blocks. Interrupt it there.
        let interrupt = Event("interrupt", ["reason": "barge-in", "timestamp": 1, "timestamp_ns": 1_000_000])
        try tool.send([interrupt, Self.chunk(" this part is never spoken."),
                       Event("reply", ["text": "cut", "interrupted": true]),
                       Event("transcript", ["text": "what about tomorrow"]),
                       Self.chunk("Tomorrow will be sunny. "), Self.chunk("Enjoy it."),
                       Event("reply", ["text": "Tomorrow will be sunny. Enjoy it."])])
        try #require(tool.waitForLog("interrupt: speech stopped"))
        let (status, frames, stderr) = try tool.finish()
        #expect(status == 0, "\(stderr)")
        let at = try #require(frames.firstIndex { $0.event == interrupt }, "the interrupt is forwarded")
        #expect(frames[at + 1].event?.type == "audio-stop", "the open stretch is closed right after it")
        let nextStart = frames[at...].firstIndex { $0.event?.type == "audio-start" } ?? frames.count
        #expect(!frames[at..<nextStart].contains { $0.audio != nil }, "no audio of the interrupted reply after the interrupt")
        let stretches = try SpeechStretch.all(in: frames)
        try #require(stretches.count == 2)
        let cut = stretches[0]
        // The pipe holds 64 KiB, 2 s of audio: the first sentence (about 4 s) was being written.
        #expect(cut.sentences == [sentences[0]], "the reply was cut in its first sentence")
        #expect(cut.end < cut.announcedEnd, "the first sentence stopped part way")
        #expect(cut.sentences.allSatisfy(sentences.contains))
        #expect(stretches[1].sentences == ["Tomorrow will be sunny.", "Enjoy it."])
        #expect(stretches[1].start >= cut.announcedEnd, "the clock skips the unsent part of the cut sentence")
        #expect(!frames.contains { $0.event?.type == "spoken" && $0.event?["text"]?.string?.contains("never") == true })
    }

    @Test func sigtermClosesTheOpenStretchAndExitsZero() throws {
        let tool = try LiveTool(["--no-cache"])
        let long = (1...6).map { "Sentence \($0) is here to make a long reply for the signal test." }.joined(separator: " ")
        try tool.send([Self.chunk(long + " And")])
        try #require(tool.read(until: { $0.contains { $0.audio != nil } }))
        tool.signal(SIGTERM)
        let (status, frames, stderr) = try tool.finish()
        #expect(status == 0, "\(stderr)")
        #expect(frames.last?.event?.type == "audio-stop")
        _ = try SpeechStretch.all(in: frames)
    }

    // MARK: Forwarding, cache, errors

    @Test func incomingAudioIsDroppedAndEventsPassByteForByte() throws {
        var input: [UInt8] = []
        let oddlyWritten = Array(#"{ "data": {"b":1, "a":[2,3]}, "type":"custom-event" }"#.utf8)
        func rawEvent(_ payload: [UInt8]) {
            input += [0x56, 0x58, 1, 0x45]
            withUnsafeBytes(of: UInt32(payload.count).bigEndian) { input += $0 }
            input += payload
        }
        rawEvent(oddlyWritten)
        FrameEncoder.encode(.event(.audioStart(.pipeline, timestamp: 0)), into: &input)
        FrameEncoder.encode(.audio(AudioChunk(timestamp: 0, pcm: [UInt8](repeating: 1, count: 640))), into: &input)
        FrameEncoder.encode(.event(.audioStop(timestamp: 20_000_000)), into: &input)
        rawEvent(Array(#"{"type":"transcript","data":{"text":"héllo"}}"#.utf8))
        let result = try Tool.run("vx-tts", ["--no-cache"], stdin: Data(input))
        #expect(result.status == 0, "\(result.stderr)")
        let frames = try decodeFrames(result.stdout)
        #expect(frames.count == 2)
        #expect(frames.first?.event?.payload == oddlyWritten)
        #expect(frames.last?.event?.type == "transcript")
    }

    @Test func repeatedSentenceComesFromTheCacheWithIdenticalAudio() throws {
        let cache = dir.appendingPathComponent("cache")
        let input = Self.jsonLines([Self.synthesize("Cached sentences come back at once.")])
        let first = try Tool.run("vx-tts", ["--cache-dir", cache.path, "--log-level", "info"], stdin: input)
        let second = try Tool.run("vx-tts", ["--cache-dir", cache.path, "--log-level", "info"], stdin: input)
        #expect(first.status == 0 && second.status == 0, "\(first.stderr)\(second.stderr)")
        #expect(first.stderr.contains("cache.hit=false"))
        #expect(second.stderr.contains("cache.hit=true"))
        #expect(!second.stderr.contains("cache.hit=false"))
        // The same audio, frame for frame (the spoken marks differ only in synth_ms).
        let audio = { (out: Data) in try decodeFrames(out).filter { $0.audio != nil } }
        #expect(try audio(first.stdout) == audio(second.stdout))
        #expect(try !audio(first.stdout).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.path).count == 1)
    }

    @Test func noCacheWritesNothing() throws {
        let home = dir.appendingPathComponent("home")
        let result = try Tool.run("vx-tts", ["--no-cache"], stdin: Self.jsonLines([Self.synthesize("Hi.")]),
                                  environment: ["XDG_CACHE_HOME": home.path])
        #expect(result.status == 0)
        #expect(!FileManager.default.fileExists(atPath: home.path))
    }

    @Test func unknownVoiceInARequestGivesAnErrorEventAndTheDefaultVoice() throws {
        let result = try Tool.run("vx-tts", ["--no-cache"], stdin: Self.jsonLines([Self.synthesize("Hello.", voice: "nobody")]))
        #expect(result.status == 0, "\(result.stderr)")
        let frames = try decodeFrames(result.stdout)
        let error = try #require(frames.compactMap(\.event).first { $0.type == "error" })
        #expect(error["code"]?.string == "tts-unknown-voice")
        #expect(try SpeechStretch.all(in: frames).map(\.sentences) == [["Hello."]])
    }

    @Test func unreachableRemoteGivesAnErrorEventAndTheStageGoesOn() throws {
        let port = try closedPort()
        let input = [Self.synthesize("Hello there."), Event("transcript", ["text": "still here"])]
        let result = try Tool.run("vx-tts", ["--engine", "remote", "--remote-url", "http://127.0.0.1:\(port)", "--no-cache"],
                                  stdin: Self.jsonLines(input))
        #expect(result.status == 0, "\(result.stderr)")
        let events = try decodeFrames(result.stdout).compactMap(\.event)
        #expect(events.map(\.type) == ["synthesize", "transcript", "error"] || events.map(\.type) == ["synthesize", "error", "transcript"])
        #expect(events.first { $0.type == "error" }?["code"]?.string == "tts-remote-failed")
        #expect(!events.contains { $0.type == "audio-start" })
    }

    @Test(arguments: [Data("hello\n".utf8), Data([0x56, 0x58, 1, 0x45, 0, 0, 0, 50, 0x7b])])
    func badInputIsADataErrorOnOneLine(input: Data) throws {
        let result = try Tool.run("vx-tts", ["--no-cache"], stdin: input)
        #expect(result.status == 65)
        #expect(result.stderr.hasPrefix("vx-tts: "))
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test(arguments: [["--engine", "nope"], ["--voice", "zzz"], ["--rate", "5"], ["--remote-url", "http://x"],
                      ["--engine", "remote"], ["--engine", "espeak", "--voice", "no-such-voice"], ["--cache-size", "-1"],
                      ["--max-sentence", "3"], ["--bogus"]])
    func badFlagsAreUsageErrorsOnOneLine(arguments: [String]) throws {
        let result = try Tool.run("vx-tts", arguments, stdin: Self.jsonLines([Self.synthesize("Hi.")]))
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.hasPrefix("vx-tts: "))
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func helpShowsExamples() throws {
        let result = try Tool.run("vx-tts", ["--help"])
        #expect(result.status == 0)
        #expect(result.stdoutText.contains("Examples:"))
        #expect(result.stdoutText.contains("--engine"))
        #expect(result.stdoutText.contains("--cache-size"))
    }

    // MARK: Intelligibility

    /// flite kal16 through vx-tts, then vx-stt (pocketsphinx): the words come back.
    @Test func fliteSpeechIsRecognisedByVxSTT() throws {
        let sentences = [
            "The quick brown fox jumps over the lazy dog.",
            "Please turn on the kitchen lights.",
            "What time is it in London?",
            "I would like a cup of coffee with milk.",
            "The weather today is sunny and warm.",
        ]
        let input = Self.jsonLines(sentences.map { Self.synthesize($0) })
        let result = try Tool.shell(["bash", "-c", "set -o pipefail; \"$0\" --no-cache | \"$1\"", Tool.path("vx-tts"), Tool.path("vx-stt")],
                                    stdin: input, timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let heard = try decodeFrames(result.stdout).compactMap(\.event).filter { $0.type == "transcript" }
            .compactMap { $0["text"]?.string }
        try #require(heard.count == sentences.count, "\(heard)")
        let reference = sentences.flatMap(words), hypothesis = heard.flatMap(words)
        let wer = Double(editDistance(reference, hypothesis)) / Double(reference.count)
        #expect(wer <= 0.15, "WER \(wer): \(heard)")
    }
}

// MARK: Helpers

/// One audio stretch of vx-tts's output, checked as it is read: 20 ms frames with contiguous
/// timestamps, each sentence's `spoken` event right before its audio with a span that matches it.
struct SpeechStretch {
    var format: AudioFormat
    /// Where it starts and where its audio ends (the audio-stop's timestamp).
    var start: UInt64
    var end: UInt64
    /// The last spoken event's end_ns: beyond `end` when an interrupt cut the stretch.
    var announcedEnd: UInt64
    var sentences: [String] = []
    var samples: [Int16] = []

    var seconds: Double { Double(samples.count) / Double(format.rate) }
    var peak: Int { samples.map { abs(Int($0)) }.max() ?? 0 }

    static func all(in frames: [Frame]) throws -> [SpeechStretch] {
        var stretches: [SpeechStretch] = []
        var current: SpeechStretch?
        var next: UInt64 = 0  // timestamp the next audio frame must have
        var spanEnd: UInt64?
        for frame in frames {
            switch frame {
            case .event(let e) where e.type == "audio-start":
                try #require(current == nil, "audio-start inside a stretch")
                let format = try e.audioFormat().get()
                let start = try #require(e.timestampNanoseconds)
                current = SpeechStretch(format: format, start: start, end: start, announcedEnd: start)
                next = start
            case .event(let e) where e.type == "spoken":
                try #require(current != nil, "spoken outside a stretch")
                let start = try #require(e.timestampNanoseconds), end = try #require(e["end_ns"]?.int)
                #expect(e["timestamp"]?.int == Int(start / 1_000_000))
                #expect(spanEnd == nil || spanEnd == next, "the sentence before was sent whole")
                #expect(start == next, "spoken comes right before its audio")
                #expect(UInt64(end) > start)
                current!.sentences.append(try #require(e["text"]?.string))
                current!.announcedEnd = UInt64(end)
                spanEnd = UInt64(end)
            case .audio(let chunk):
                try #require(current != nil, "audio outside a stretch")
                let format = current!.format
                #expect(chunk.pcm.count == format.rate / 50 * format.bytesPerFrame, "a 20 ms frame")
                #expect(chunk.timestamp == next, "timestamps are contiguous")
                #expect(spanEnd.map { chunk.timestamp < $0 } ?? false, "audio lies inside its sentence's span")
                next = chunk.timestamp + format.nanoseconds(forFrames: chunk.pcm.count / format.bytesPerFrame)
                for i in stride(from: 0, to: chunk.pcm.count - 1, by: 2) {
                    current!.samples.append(Int16(bitPattern: UInt16(chunk.pcm[i]) | UInt16(chunk.pcm[i + 1]) << 8))
                }
            case .event(let e) where e.type == "audio-stop":
                guard var stretch = current else { continue }
                #expect(e.timestampNanoseconds == next, "audio-stop just after the last sample")
                stretch.end = next
                stretches.append(stretch)
                current = nil
                spanEnd = nil
            default:
                break
            }
        }
        #expect(current == nil, "every stretch is closed")
        return stretches
    }
}

/// vx-tts running, fed and read a frame at a time through pipes the test controls.
final class LiveTool: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe(), output = Pipe(), errors = Pipe()
    private var decoder = FrameDecoder()
    private(set) var frames: [Frame] = []
    private let errorLock = NSLock()
    private var errorText = Data()
    private let errorsDone = DispatchSemaphore(value: 0)

    init(_ arguments: [String], tool: String = "vx-tts") throws {
        process.executableURL = URL(fileURLWithPath: Tool.path(tool))
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let fd = errors.fileHandleForReading.fileDescriptor
        DispatchQueue.global().async { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = Glibc.read(fd, &buffer, buffer.count)
                guard n > 0 else { break }
                errorLock.withLock { errorText.append(contentsOf: buffer[0..<n]) }
            }
            errorsDone.signal()
        }
    }

    /// Waits until stderr has a line containing `text` (at most `timeout` seconds).
    func waitForLog(_ text: String, timeout: Double = 60) -> Bool {
        for _ in 0..<Int(timeout * 100) {
            if errorLock.withLock({ String(decoding: errorText, as: UTF8.self).contains(text) }) { return true }
            usleep(10_000)
        }
        Issue.record("no log line with \(text) within \(timeout) s")
        return false
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    func send(_ events: [Event]) throws {
        var bytes: [UInt8] = []
        for event in events { FrameEncoder.encode(.event(event), into: &bytes) }
        try input.fileHandleForWriting.write(contentsOf: Data(bytes))
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Reads stdout, a little at a time, until `condition` holds for the frames read so far
    /// (true), or the output ends or `timeout` passes (false, recorded as an issue on timeout).
    func read(until condition: ([Frame]) -> Bool, timeout: Double = 60) -> Bool {
        let fd = output.fileHandleForReading.fileDescriptor
        var waited = 0.0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !condition(frames) {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else {
                waited += 0.1
                if waited >= timeout {
                    Issue.record("no such output within \(timeout) s")
                    return false
                }
                continue
            }
            let n = Glibc.read(fd, &buffer, buffer.count)
            guard n > 0 else { return condition(frames) }
            decoder.append(contentsOf: buffer[0..<n])
            do {
                while let frame = try decoder.next() { frames.append(frame) }
            } catch {
                Issue.record("bad output: \(error)")
                return false
            }
        }
        return true
    }

    /// Closes stdin, reads the rest of stdout, waits for the exit.
    func finish(timeout: Double = 60) throws -> (Int32, [Frame], String) {
        try? input.fileHandleForWriting.close()
        _ = read(until: { _ in false }, timeout: timeout)
        if process.isRunning {
            for _ in 0..<Int(timeout * 100) where process.isRunning { usleep(10_000) }
            if process.isRunning {
                Issue.record("vx-tts did not exit")
                kill(process.processIdentifier, SIGKILL)
            }
        }
        process.waitUntilExit()
        _ = errorsDone.wait(timeout: .now() + 5)
        return (process.terminationStatus, frames, errorLock.withLock { String(decoding: errorText, as: UTF8.self) })
    }
}

/// Lower-case words without punctuation.
func words(_ text: String) -> [String] {
    text.lowercased().split { !$0.isLetter && !$0.isNumber && $0 != "'" }.map(String.init)
}

/// Word-level Levenshtein distance.
func editDistance(_ a: [String], _ b: [String]) -> Int {
    var previous = Array(0...b.count)
    for (i, x) in a.enumerated() {
        var row = [i + 1]
        for (j, y) in b.enumerated() {
            row.append(min(previous[j + 1] + 1, row[j] + 1, previous[j] + (x == y ? 0 : 1)))
        }
        previous = row
    }
    return previous[b.count]
}

/// A port on 127.0.0.1 that nothing listens on.
func closedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    try #require(bound)
    return Int(UInt16(bigEndian: address.sin_port))
}
