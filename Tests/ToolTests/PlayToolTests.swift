import Foundation
import Testing
import VXShared

/// vx-play run as a user runs it, on streams encoded here: real files through
/// libsndfile (read back with sox), real resampling, ALSA's null device, real
/// pipes with pauses in them, and real signals.
@Suite(.serialized) struct PlayToolTests {
    let dir: URL

    init() throws {
        dir = try Tool.temporaryDirectory()
        // vx-play may exit before reading all its input: a late write must fail, not kill the tests.
        signal(SIGPIPE, SIG_IGN)
    }

    // MARK: Files and raw output

    @Test(arguments: [AudioFormat(rate: 16_000, width: 2, channels: 1), AudioFormat(rate: 48_000, width: 4, channels: 2)])
    func fileHoldsTheInputSamplesBitForBit(format: AudioFormat) throws {
        var stream = PlayStream()
        let pcm = stream.stretch(format, seconds: 0.75)
        let out = dir.appendingPathComponent("out.wav")
        let result = try Tool.run("vx-play", [out.path], stdin: stream.data)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TestAudio.soxi(out, "-r") == format.rate)
        #expect(try TestAudio.soxi(out, "-c") == format.channels)
        #expect(try TestAudio.soxi(out, "-b") == format.width * 8)
        #expect(try TestAudio.samples(out) == Data(pcm))
    }

    @Test func laterFormatIsResampledAndRemixedIntoTheFirstOnesFile() throws {
        var stream = PlayStream()
        let first = stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 1)
        stream.stretch(AudioFormat(rate: 22_050, width: 2, channels: 2), seconds: 0.5, at: 2_000_000_000)
        let out = dir.appendingPathComponent("out.wav")
        let result = try Tool.run("vx-play", [out.path], stdin: stream.data)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TestAudio.soxi(out, "-r") == 16_000)
        #expect(try TestAudio.soxi(out, "-c") == 1)
        #expect(try TestAudio.soxi(out, "-s") == 24_000)  // 1 s + 0.5 s at 16 kHz
        #expect(try TestAudio.samples(out).prefix(first.count) == Data(first))
    }

    @Test func rateChannelsAndWidthFlagsFixTheOutputFormat() throws {
        var stream = PlayStream()
        stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 1)
        let out = dir.appendingPathComponent("out.flac")
        let result = try Tool.run("vx-play", ["--rate", "8000", "--channels", "2", out.path], stdin: stream.data)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TestAudio.soxi(out, "-r") == 8_000)
        #expect(try TestAudio.soxi(out, "-c") == 2)
        #expect(try TestAudio.soxi(out, "-s") == 8_000)
    }

    @Test func dashWritesRawPCMOnStdoutAndLogsEventsInstead() throws {
        var stream = PlayStream()
        stream.add(.event(Event("transcript", ["text": "hello"])))
        let pcm = stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 0.5)
        let result = try Tool.run("vx-play", ["-", "--log-level", "info"], stdin: stream.data)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == Data(pcm))
        #expect(result.stderr.contains("event.type=transcript"))
        #expect(result.stderr.contains("event.type=played"))
    }

    // MARK: Text

    @Test func textShowsOneJSONLinePerFrameWithAudioSummarised() throws {
        var stream = PlayStream()
        stream.add(.event(Event("transcript", ["text": "hi"])))
        stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 0.1)
        let result = try Tool.run("vx-play", ["--text"], stdin: stream.data)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.count == stream.frameCount)
        #expect(lines.first == #"{"type":"transcript","data":{"text":"hi"}}"#)
        #expect(lines[1].hasPrefix(#"{"type":"audio-start","data":{"channels":1,"rate":16000,"#))
        let chunk = try #require(lines.dropFirst(2).first)
        #expect(chunk.hasPrefix(#"{"type":"audio-chunk""#))
        #expect(chunk.contains(#""samples":320"#) && chunk.contains(#""duration_ms":20"#))
        #expect(!chunk.contains(#""pcm""#))
        #expect(lines.last?.hasPrefix(#"{"type":"audio-stop""#) == true)
    }

    @Test func textPCMFedBackIntoPlayGivesTheSameFileAndEvents() throws {
        var stream = PlayStream()
        stream.add(.event(Event("transcript", ["text": "round trip"])))
        let pcm = stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 0.4)
        let text = try Tool.run("vx-play", ["--text-pcm"], stdin: stream.data)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdoutText.contains(#""pcm":""#))
        let out = dir.appendingPathComponent("out.wav")
        let result = try Tool.run("vx-play", [out.path], stdin: text.stdout)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TestAudio.samples(out) == Data(pcm))
        let events = try decodeFrames(result.stdout).compactMap(\.event)
        #expect(events.map(\.type) == ["transcript", "playing", "played"])
        #expect(events.last?["samples"] == 6_400)
    }

    // MARK: Events

    @Test func answersPingWithPongAndDescribeWithInfo() throws {
        var stream = PlayStream()
        stream.add(.event(Event("ping", ["text": "are you there"])))
        stream.add(.event(Event("describe")))
        let result = try Tool.run("vx-play", ["--device", "null"], stdin: stream.data)
        #expect(result.status == 0, "\(result.stderr)")
        let events = try decodeFrames(result.stdout).compactMap(\.event)
        #expect(events.map(\.type) == ["pong", "info"])
        #expect(events.first?["text"] == "are you there")
        #expect(events.last?["name"] == "vx-play")
    }

    @Test func otherEventsAreForwardedUnchangedAndEachStretchReportedOnce() throws {
        var stream = PlayStream()
        // Spacing and key order a re-encoder would change: forwarded bytes must stay as they were.
        let odd = Array(#"{ "data": {"z": 1, "a": [true, null]}, "type": "custom-thing" }"#.utf8)
        stream.addRawEvent(odd)
        stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 0.3, at: 1_000_000_000)
        stream.add(.event(Event("transcript", ["text": "hello"])))
        stream.stretch(AudioFormat(rate: 8_000, width: 2, channels: 1), seconds: 0.2, at: 5_000_000_000)
        let out = dir.appendingPathComponent("out.wav")
        let result = try Tool.run("vx-play", [out.path], stdin: stream.data)
        #expect(result.status == 0, "\(result.stderr)")

        let events = try decodeFrames(result.stdout).compactMap(\.event)
        #expect(events.filter { !["playing", "played"].contains($0.type) }.map(\.type) == ["custom-thing", "transcript"])
        #expect(events.first?.payload == odd)
        let played = events.filter { $0.type == "played" }
        try #require(played.count == 2)
        #expect(played[0].data == [
            "timestamp": 1_000, "timestamp_ns": 1_000_000_000, "end_ns": 1_300_000_000, "samples": 4_800, "interrupted": false,
        ])
        #expect(played[1].data == [
            "timestamp": 5_000, "timestamp_ns": 5_000_000_000, "end_ns": 5_200_000_000, "samples": 1_600, "interrupted": false,
        ])
        #expect(!result.stdout.contains(Data("audio-start".utf8)))
    }

    // MARK: Interrupts and pacing

    @Test func interruptDropsQueuedAudioAndReportsWhatWasHeard() throws {
        let format = AudioFormat(rate: 16_000, width: 2, channels: 1)
        var speech = PlayStream()
        let pcm = speech.stretch(format, seconds: 3)
        var after = PlayStream()
        after.add(.event(Event("interrupt")))
        after.add(.event(Event("transcript", ["text": "next"])))
        after.stretch(format, seconds: 0.2, at: 10_000_000_000)

        let out = dir.appendingPathComponent("out.wav")
        let play = try RunningPlay(["--realtime", out.path])
        play.write(speech.data)
        Thread.sleep(forTimeInterval: 0.5)
        play.write(after.data)
        play.closeInput()
        let result = play.finish()
        #expect(result.status == 0, "\(result.stderr)")

        let events = try decodeFrames(result.stdout).compactMap(\.event)
        #expect(events.map(\.type) == ["playing", "interrupt", "played", "transcript", "playing", "played"],
                "the interrupt is forwarded ahead of the report of what it cut")
        try #require(events.count == 6)
        let cut = events[2]
        #expect(cut["interrupted"] == true)
        let heard = try #require(cut["samples"]?.int)
        #expect((3_200...40_000).contains(heard), "heard \(heard) of 48000 samples after 0.5 s")
        #expect(cut["end_ns"]?.int == heard * 62_500)
        let silence = try #require(cut["silence_us"]?.int)
        // Tens of µs here; the bound is loose so a loaded machine cannot fail it, and still far below
        // the queued audio (hundreds of ms) that a late silence would mean.
        #expect(silence < 100_000, "interrupt to silence took \(silence) µs")
        #expect(events[5]["interrupted"] == false && events[5]["samples"] == 3_200)
        // The file holds exactly what was heard, then the next stretch.
        let samples = try TestAudio.samples(out)
        #expect(samples.count == (heard + 3_200) * 2)
        #expect(samples.prefix(heard * 2) == Data(pcm.prefix(heard * 2)))
    }

    @Test func interruptIsReadAtOnceWhileAudioIsStillQueued() throws {
        var stream = PlayStream()
        stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 3, stop: false)
        stream.add(.event(Event("interrupt")))
        let out = dir.appendingPathComponent("out.wav")
        let result = try Tool.run("vx-play", ["--realtime", out.path], stdin: stream.data)
        #expect(result.status == 0, "\(result.stderr)")
        let played = try #require(try decodeFrames(result.stdout).compactMap(\.event).first { $0.type == "played" })
        #expect(played.type == "played" && played["interrupted"] == true)
        #expect((played["samples"]?.int ?? .max) < 16_000, "the queued 3 s should have been dropped")
    }

    @Test func fullQueueHoldsBackInputSoALateInterruptFindsLessToDrop() throws {
        var stream = PlayStream()
        stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 1.5, stop: false)
        stream.add(.event(Event("interrupt")))
        let out = dir.appendingPathComponent("out.wav")
        let result = try Tool.run("vx-play", ["--realtime", "--queue-limit", "0.2", out.path], stdin: stream.data)
        #expect(result.status == 0, "\(result.stderr)")
        let played = try #require(try decodeFrames(result.stdout).compactMap(\.event).first { $0.type == "played" })
        // The reader waited behind the audio: only about the last 0.2 s was still queued.
        let heard = played["samples"]?.int ?? 0
        #expect((16_000..<24_000).contains(heard), "heard \(heard) of 24000 samples")
    }

    @Test func eachStretchSaysPlayingOnceThenPlayed() throws {
        var stream = PlayStream()
        stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 0.3, at: 1_000_000_000)
        stream.stretch(AudioFormat(rate: 8_000, width: 2, channels: 1), seconds: 0.2, at: 5_000_000_000)
        let out = dir.appendingPathComponent("out.wav")
        let result = try Tool.run("vx-play", [out.path], stdin: stream.data)
        #expect(result.status == 0, "\(result.stderr)")
        let events = try decodeFrames(result.stdout).compactMap(\.event)
        #expect(events.map(\.type) == ["playing", "played", "playing", "played"])
        try #require(events.count == 4)
        #expect(events[0].data == ["timestamp": 1_000, "timestamp_ns": 1_000_000_000])
        #expect(events[2].data == ["timestamp": 5_000, "timestamp_ns": 5_000_000_000])
    }

    @Test func playingComesAsARealtimeStretchStartsAndPlayedAsItEnds() throws {
        var stream = PlayStream()
        stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 1)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Tool.path("vx-play"))
        process.arguments = ["--realtime", dir.appendingPathComponent("out.wav").path]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let started = Date()
        try input.fileHandleForWriting.write(contentsOf: stream.data)
        try input.fileHandleForWriting.close()
        // Each event with the seconds since the audio was sent, as it arrives.
        var arrivals: [(type: String, after: Double)] = []
        var decoder = FrameDecoder()
        while case let data = output.fileHandleForReading.availableData, !data.isEmpty {
            decoder.append(contentsOf: data)
            while let frame = try decoder.next() {
                if let event = frame.event { arrivals.append((event.type, Date().timeIntervalSince(started))) }
            }
        }
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(arrivals.map(\.type) == ["playing", "played"])
        try #require(arrivals.count == 2)
        // `playing` as the stretch starts, `played` as it ends: a second of audio between them, however
        // long the tool took to start.
        let between = arrivals[1].after - arrivals[0].after
        #expect(between >= 0.9, "playing came only \(between) s before played")
    }

    @Test func stretchCutWhileStillQueuedGetsNoPlaying() throws {
        let format = AudioFormat(rate: 16_000, width: 2, channels: 1)
        var speech = PlayStream()
        speech.stretch(format, seconds: 2)
        speech.stretch(format, seconds: 2, at: 2_000_000_000)
        var interrupt = PlayStream()
        interrupt.add(.event(Event("interrupt")))
        let out = dir.appendingPathComponent("out.wav")
        let play = try RunningPlay(["--realtime", out.path])
        play.write(speech.data)
        Thread.sleep(forTimeInterval: 0.4)
        play.write(interrupt.data)
        play.closeInput()
        let result = play.finish()
        #expect(result.status == 0, "\(result.stderr)")
        let events = try decodeFrames(result.stdout).compactMap(\.event)
        #expect(events.map(\.type) == ["playing", "interrupt", "played", "played"])
        try #require(events.count == 4)
        #expect(events[0]["timestamp_ns"] == 0)
        #expect(events[2]["interrupted"] == true && events[2]["timestamp_ns"] == 0)
        #expect(events[3]["interrupted"] == true && events[3]["samples"] == 0 && events[3]["timestamp_ns"] == 2_000_000_000)
    }

    @Test func realtimeTakesAboutAsLongAsTheAudio() throws {
        var stream = PlayStream()
        stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 1)
        var long = PlayStream()
        long.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 30)
        let out = dir.appendingPathComponent("out.wav")
        var started = Date()
        let fast = try Tool.run("vx-play", [out.path], stdin: long.data)
        let fastTime = Date().timeIntervalSince(started)
        started = Date()
        let paced = try Tool.run("vx-play", ["--realtime", out.path], stdin: stream.data)
        let pacedTime = Date().timeIntervalSince(started)
        #expect(fast.status == 0 && paced.status == 0)
        // Bounds a loaded machine cannot break: a paced second takes at least a second; 30 s of audio
        // unpaced takes a small part of 30 s (about 0.1 s here).
        #expect(fastTime < 10, "without --realtime, 30 s of audio took \(fastTime) s")
        #expect(pacedTime >= 1, "with --realtime: \(pacedTime) s")
    }

    @Test func sigtermDuringPlaybackLeavesAValidFileAndExitsZero() throws {
        var stream = PlayStream()
        let pcm = stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 3)
        let out = dir.appendingPathComponent("out.wav")
        let play = try RunningPlay(["--realtime", out.path])
        play.write(stream.data)
        Thread.sleep(forTimeInterval: 0.5)
        play.signal(SIGTERM)
        let result = play.finish()
        #expect(result.status == 0, "\(result.stderr)")
        let events = try decodeFrames(result.stdout).compactMap(\.event)
        #expect(events.map(\.type) == ["playing", "played"])
        let played = try #require(events.last)
        #expect(played["interrupted"] == true)
        let heard = try #require(played["samples"]?.int)
        #expect((1_600..<48_000).contains(heard))
        // The header was finished: sox reads exactly the samples the file holds.
        #expect(try TestAudio.soxi(out, "-s") == heard)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: out.path)[.size] as? Int)
        #expect(size == 44 + heard * 2)
        #expect(try TestAudio.samples(out) == Data(pcm.prefix(heard * 2)))
    }

    // MARK: Devices

    @Test func nullDevicePlaysHeadlessAndReports() throws {
        var stream = PlayStream()
        stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 0.5)
        stream.stretch(AudioFormat(rate: 44_100, width: 2, channels: 2), seconds: 0.2, at: 1_000_000_000)
        let result = try Tool.run("vx-play", ["--device", "null"], stdin: stream.data)
        #expect(result.status == 0, "\(result.stderr)")
        let events = try decodeFrames(result.stdout).compactMap(\.event)
        #expect(events.map(\.type) == ["playing", "played", "playing", "played"])
        #expect(events.map { $0["timestamp_ns"] } == [0, 0, 1_000_000_000, 1_000_000_000])
        let played = events.filter { $0.type == "played" }
        #expect(played.map { $0["samples"] } == [8_000, 8_820])
        #expect(played.allSatisfy { $0["interrupted"] == false })
    }

    @Test func interruptOnNullDeviceReportsTheSilenceTime() throws {
        var stream = PlayStream()
        stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 0.5, stop: false)
        var interrupt = PlayStream()
        interrupt.add(.event(Event("interrupt")))
        let play = try RunningPlay(["--device", "null"])
        play.write(stream.data)
        Thread.sleep(forTimeInterval: 0.2)
        play.write(interrupt.data)
        play.closeInput()
        let result = play.finish()
        #expect(result.status == 0, "\(result.stderr)")
        let events = try decodeFrames(result.stdout).compactMap(\.event)
        #expect(events.map(\.type) == ["playing", "interrupt", "played"])
        let played = try #require(events.last)
        #expect(played["interrupted"] == true)
        // null swallows audio at once: all of it was "heard" before the interrupt.
        #expect(played["samples"] == 8_000)
        let silence = try #require(played["silence_us"]?.int)
        // Tens of µs here; the bound is loose so a loaded machine cannot fail it, and still far below
        // the queued audio (hundreds of ms) that a late silence would mean.
        #expect(silence < 100_000, "interrupt to silence took \(silence) µs")
    }

    @Test func missingDeviceIsUnavailable() throws {
        var stream = PlayStream()
        stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 0.1)
        let result = try Tool.run("vx-play", ["--device", "nosuchdevice"], stdin: stream.data)
        #expect(result.status == 69)
        #expect(result.stderr == "vx-play: cannot open ALSA playback device 'nosuchdevice': no such device\n")
    }

    // MARK: Bad input and usage

    @Test func textThatIsNotAFrameStreamIsBadDataAndLeavesNoFile() throws {
        let out = dir.appendingPathComponent("x.wav")
        let result = try Tool.run("vx-play", [out.path], stdin: Data("hi\n".utf8))
        #expect(result.status == 65)
        #expect(result.stderr.hasPrefix("vx-play: input is not a vx frame stream (did you mean vx-capture?)"))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func truncatedStreamNamesTheOffsetAndLeavesAnExistingFileAlone() throws {
        var stream = PlayStream()
        _ = stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 1)
        // Cut the stream 100 bytes into the 11th frame (the 10th audio chunk).
        let cutFrame = stream.offsets[10]
        let out = dir.appendingPathComponent("out.wav")
        try TestAudio.sine(out, rate: 16_000, seconds: 3, frequency: 440)
        let before = try Data(contentsOf: out)
        let result = try Tool.run("vx-play", [out.path], stdin: stream.data.prefix(cutFrame + 100))
        #expect(result.status == 65)
        #expect(result.stderr == "vx-play: stream ends inside the frame at byte offset \(cutFrame): expected 656 bytes, got 100\n")
        #expect(try Data(contentsOf: out) == before, "bad input must not replace the existing file")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".part") }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
    }

    @Test func truncatedStreamWritesNoNewFile() throws {
        var stream = PlayStream()
        _ = stream.stretch(AudioFormat(rate: 16_000, width: 2, channels: 1), seconds: 1)
        let out = dir.appendingPathComponent("new.wav")
        let result = try Tool.run("vx-play", [out.path], stdin: stream.data.prefix(stream.offsets[10] + 100))
        #expect(result.status == 65)
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test(arguments: [
        (["out.mp9"], "cannot tell the audio file type of out.mp9 from its extension"),
        (["--device", "null", "out.wav"], "--device plays on a device; it cannot be used with OUTPUT out.wav"),
        (["--to", "-", "-"], "--to - conflicts with OUTPUT -"),
        (["--text", "out.wav"], "--text writes to stdout"),
        (["--width", "3", "out.wav"], "--width 3 is not 2 or 4 bytes"),
        (["--queue-limit", "0", "out.wav"], "--queue-limit 0.0 must be more than 0"),
    ])
    func badUsageExits64BeforeReadingInput(arguments: [String], message: String) throws {
        // The input is not a frame stream: a usage error must come first.
        let result = try Tool.run("vx-play", arguments, stdin: Data("hi\n".utf8))
        #expect(result.status == 64)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func missingDirectoryIsAnIOErrorBeforeReadingInput() throws {
        let out = dir.appendingPathComponent("no/such/dir/out.wav")
        let result = try Tool.run("vx-play", [out.path], stdin: Data("hi\n".utf8))
        #expect(result.status == 74)
        #expect(result.stderr == "vx-play: cannot create \(out.path): no such directory \(out.deletingLastPathComponent().path)\n")
    }
}

/// A frame stream built in memory, with the byte offset of every frame.
struct PlayStream {
    private(set) var bytes: [UInt8] = []
    private(set) var offsets: [Int] = []
    private var seed: UInt32 = 12_345

    var data: Data { Data(bytes) }
    var frameCount: Int { offsets.count }

    mutating func add(_ frame: Frame) {
        offsets.append(bytes.count)
        FrameEncoder.encode(frame, into: &bytes)
    }

    /// An event frame with exactly these payload bytes.
    mutating func addRawEvent(_ payload: [UInt8]) {
        offsets.append(bytes.count)
        bytes += [0x56, 0x58, 1, 0x45]
        withUnsafeBytes(of: UInt32(payload.count).bigEndian) { bytes += $0 }
        bytes += payload
    }

    /// audio-start, `seconds` of noise in 20 ms chunks, audio-stop (unless `stop` is false);
    /// returns the PCM.
    @discardableResult
    mutating func stretch(_ format: AudioFormat, seconds: Double, at start: UInt64 = 0, stop: Bool = true) -> [UInt8] {
        add(.event(.audioStart(format, timestamp: start)))
        let total = Int((seconds * Double(format.rate)).rounded())
        let perChunk = format.rate / 50
        var all: [UInt8] = []
        var done = 0
        while done < total {
            let frames = min(perChunk, total - done)
            var pcm: [UInt8] = []
            for _ in 0..<frames * format.channels * format.width / 2 {
                seed = seed &* 1_103_515_245 &+ 12_345
                let sample = UInt16(truncatingIfNeeded: seed >> 8) / 4  // well below full scale
                pcm.append(UInt8(sample & 0xff))
                pcm.append(UInt8(sample >> 8))
            }
            add(.audio(AudioChunk(timestamp: start + format.nanoseconds(forFrames: done), pcm: pcm)))
            all += pcm
            done += frames
        }
        if stop { add(.event(.audioStop(timestamp: start + format.nanoseconds(forFrames: total)))) }
        return all
    }
}

/// vx-play running with its stdin held open, so a test can write, pause,
/// write more, or signal it.
final class RunningPlay: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe(), output = Pipe(), errors = Pipe()
    private let writer = DispatchQueue(label: "vx-play-test-stdin")
    private let group = DispatchGroup()
    private var out = Data(), err = Data()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: Tool.path("vx-play"))
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        group.enter()
        DispatchQueue.global().async { [self] in
            out = output.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async { [self] in
            err = errors.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
    }

    /// Queues bytes for stdin; they are written in order, without blocking the test.
    func write(_ data: Data) {
        writer.async { [input] in try? input.fileHandleForWriting.write(contentsOf: data) }
    }

    func closeInput() {
        writer.async { [input] in try? input.fileHandleForWriting.close() }
    }

    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the exit (killing it after `timeout` seconds, as a test failure).
    func finish(timeout: Double = 30) -> Tool.Result {
        if group.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("vx-play \(process.arguments ?? []) did not finish within \(timeout) s")
            _ = group.wait(timeout: .now() + 5)
        }
        process.waitUntilExit()
        closeInput()
        return Tool.Result(status: process.terminationStatus, stdout: out, stderr: String(decoding: err, as: UTF8.self))
    }
}
