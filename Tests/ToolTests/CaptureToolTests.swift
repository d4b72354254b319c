import Foundation
import Testing
import VXShared

/// vx-capture run as a user runs it: real files through libsndfile, real
/// resampling, ALSA's null device, real pipes and signals.
@Suite(.serialized) struct CaptureToolTests {
    let dir: URL
    init() throws { dir = try Tool.temporaryDirectory() }

    @Test func writesStretchOfTwentyMillisecondChunksWithTimestamps() throws {
        let wav = dir.appendingPathComponent("in.wav")
        try TestAudio.sine(wav, rate: 16_000, seconds: 0.5, frequency: 440)
        let result = try Tool.run("vx-capture", [wav.path])
        #expect(result.status == 0, "\(result.stderr)")
        let frames = try decodeFrames(result.stdout)
        let start = try #require(frames.first?.event)
        #expect(start.type == "audio-start")
        #expect(start["rate"] == 16_000 && start["width"] == 2 && start["channels"] == 1)
        #expect(frames.last?.event?.type == "audio-stop")
        #expect(frames.last?.event?.timestampNanoseconds == 500_000_000)
        let audio = frames.compactMap(\.audio)
        #expect(audio.count == 25)
        #expect(audio.allSatisfy { $0.pcm.count == 640 })
        #expect(audio.map(\.timestamp) == (0..<25).map { UInt64($0) * 20_000_000 })
    }

    @Test func sixteenKilohertzWavThroughCaptureAndPlayIsBitExact() throws {
        let wav = dir.appendingPathComponent("in.wav"), out = dir.appendingPathComponent("out.wav")
        _ = try Tool.shell(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", wav.path, "synth", "1.234", "pinknoise", "vol", "0.7"])
        let result = try Tool.shell(["bash", "-c", "set -o pipefail; \"$0\" \"$1\" | \"$2\" \"$3\"",
                                     Tool.path("vx-capture"), wav.path, Tool.path("vx-play"), out.path])
        #expect(result.status == 0, "\(result.stderr)")
        let original = try TestAudio.samples(wav), copy = try TestAudio.samples(out)
        #expect(original.count == 16_000 * 1234 / 1000 * 2)
        #expect(original == copy)
        #expect(try TestAudio.soxi(out, "-r") == 16_000)
    }

    @Test func stereoFlacAt44kComesOutMono16kWithRightDurationAndPitch() throws {
        let flac = dir.appendingPathComponent("in.flac"), out = dir.appendingPathComponent("out.wav")
        try TestAudio.sine(flac, rate: 44_100, channels: 2, seconds: 2, frequency: 1000)
        let result = try Tool.shell(["bash", "-c", "set -o pipefail; \"$0\" \"$1\" | \"$2\" \"$3\"",
                                     Tool.path("vx-capture"), flac.path, Tool.path("vx-play"), out.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TestAudio.soxi(out, "-r") == 16_000)
        #expect(try TestAudio.soxi(out, "-c") == 1)
        #expect(try TestAudio.soxi(out, "-s") == 32_000)  // exactly 2 s of samples
        let frequency = try TestAudio.stat(out, "Rough   frequency")
        #expect(abs(frequency - 1000) < 10, "dominant frequency \(frequency) Hz")
    }

    @Test func severalFilesAreStretchesWithStreamTimeRunningOn() throws {
        let a = dir.appendingPathComponent("a.wav"), b = dir.appendingPathComponent("b.aiff")
        try TestAudio.sine(a, rate: 16_000, seconds: 0.3, frequency: 300)
        try TestAudio.sine(b, rate: 8_000, seconds: 0.2, frequency: 500)
        let result = try Tool.run("vx-capture", [a.path, b.path])
        #expect(result.status == 0, "\(result.stderr)")
        let events = try decodeFrames(result.stdout).compactMap(\.event)
        #expect(events.map(\.type) == ["audio-start", "audio-stop", "audio-start", "audio-stop"])
        #expect(events.map(\.timestampNanoseconds) == [0, 300_000_000, 300_000_000, 500_000_000])
    }

    @Test func rawPCMOnStandardInputWithSoxStyleFlags() throws {
        let made = try Tool.shell(["sox", "-n", "-t", "raw", "-r", "8000", "-b", "16", "-e", "signed", "-c", "1", "-",
                                   "synth", "0.5", "sine", "400"])
        let result = try Tool.run("vx-capture", ["--raw", "-r", "8000", "-b", "16", "-c", "1", "-e", "signed"], stdin: made.stdout)
        #expect(result.status == 0, "\(result.stderr)")
        let frames = try decodeFrames(result.stdout)
        let samples = frames.compactMap(\.audio).reduce(0) { $0 + $1.pcm.count / 2 }
        #expect(samples == 8_000)  // 0.5 s resampled to 16 kHz
    }

    @Test func wavOnStandardInput() throws {
        let wav = dir.appendingPathComponent("in.wav")
        try TestAudio.sine(wav, rate: 16_000, seconds: 0.2, frequency: 440)
        let result = try Tool.run("vx-capture", ["-"], stdin: try Data(contentsOf: wav))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try decodeFrames(result.stdout).compactMap(\.audio).count == 10)
    }

    @Test(arguments: [
        (["missing.wav"], Int32(66), "cannot open"),
        (["notes.txt"], Int32(65), "is not a readable audio file"),
        (["good.wav", "missing.wav"], Int32(66), "missing.wav"),
        (["--rate", "0", "good.wav"], Int32(64), "rate 0"),
        (["--width", "3", "good.wav"], Int32(64), "width 3"),
        (["--bogus", "good.wav"], Int32(64), "Unknown option"),
        ([], Int32(64), "nothing to read"),
        (["--raw", "-e", "float", "-b", "16"], Int32(64), "not supported"),
    ])
    func badInputIsOneLineWithItsExitCodeAndNoFrames(arguments: [String], status: Int32, message: String) throws {
        try "just some words\n".write(to: dir.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        try TestAudio.sine(dir.appendingPathComponent("good.wav"), rate: 16_000, seconds: 0.1, frequency: 440)
        let result = try Tool.run("vx-capture", arguments.map { $0.hasSuffix(".wav") || $0.hasSuffix(".txt") ? dir.appendingPathComponent($0).path : $0 })
        #expect(result.status == status)
        #expect(result.stderr.hasPrefix("vx-capture: "))
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stdout.isEmpty, "nothing half-written")
    }

    @Test func closedStdoutEndsQuietly() throws {
        let wav = dir.appendingPathComponent("long.wav")
        try TestAudio.sine(wav, rate: 16_000, seconds: 30, frequency: 440)
        let result = try Tool.shell(["bash", "-c", "\"$0\" \"$1\" | head -c 100 >/dev/null; echo ${PIPESTATUS[0]} >&2",
                                     Tool.path("vx-capture"), wav.path])
        #expect(result.stderr == "0\n")
    }

    @Test func realtimeTakesAsLongAsTheAudio() throws {
        let wav = dir.appendingPathComponent("in.wav")
        try TestAudio.sine(wav, rate: 16_000, seconds: 0.6, frequency: 440)
        let started = Date()
        let result = try Tool.run("vx-capture", ["--realtime", wav.path])
        #expect(result.status == 0)
        // A lower bound only: a slow machine can take longer, never shorter.
        #expect(Date().timeIntervalSince(started) >= 0.55)
        #expect(try decodeFrames(result.stdout).compactMap(\.audio).count == 30)
    }

    @Test func sigtermClosesTheOpenStretchAndExitsZero() throws {
        let wav = dir.appendingPathComponent("in.wav"), out = dir.appendingPathComponent("frames.vx")
        try TestAudio.sine(wav, rate: 16_000, seconds: 10, frequency: 440)
        // The signal goes once frames flow (the handler is in place by then), not after a fixed sleep:
        // on a loaded machine the tool can take longer than any sleep to start.
        let result = try Tool.shell(["bash", "-c", """
            "$0" --realtime "$1" > "$2" & pid=$!
            for i in $(seq 300); do [ -s "$2" ] && break; sleep 0.02; done
            sleep 0.2; kill -TERM $pid; wait $pid; echo $?
            """, Tool.path("vx-capture"), wav.path, out.path])
        #expect(result.stdoutText == "0\n", "\(result.stderr)")
        let frames = try decodeFrames(try Data(contentsOf: out))
        let stop = try #require(frames.last?.event)
        #expect(stop.type == "audio-stop")
        let audio = frames.compactMap(\.audio)
        #expect(audio.count >= 1 && audio.count < 500)
        #expect(stop.timestampNanoseconds == UInt64(audio.count) * 20_000_000)
    }

    @Test func capturesFromALSANullDeviceHeadless() throws {
        let result = try Tool.run("vx-capture", ["--device", "null", "--duration", "0.2"])
        #expect(result.status == 0, "\(result.stderr)")
        let frames = try decodeFrames(result.stdout)
        #expect(frames.compactMap(\.audio).reduce(0) { $0 + $1.pcm.count } == 3_200 * 2)
        #expect(frames.last?.event?.type == "audio-stop")
    }

    @Test func missingALSADeviceIsUnavailable() throws {
        let result = try Tool.run("vx-capture", ["--device", "nosuchdevice", "--duration", "1"])
        #expect(result.status == 69)
        #expect(result.stderr == "vx-capture: cannot open ALSA capture device 'nosuchdevice': no such device\n")
        #expect(result.stdout.isEmpty)
    }

    @Test func refusesToWriteFramesToATerminal() throws {
        // `script` gives the tool a pseudo-terminal as stdout.
        let wav = dir.appendingPathComponent("in.wav")
        try TestAudio.sine(wav, rate: 16_000, seconds: 0.1, frequency: 440)
        let result = try Tool.shell(["script", "-qec", "\(Tool.path("vx-capture")) \(wav.path); echo status=$?", "/dev/null"])
        #expect(result.stdoutText.contains("refusing to write binary frames to a terminal"))
        #expect(result.stdoutText.contains("status=64"))
    }
}
