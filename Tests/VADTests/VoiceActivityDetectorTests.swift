import Foundation
import Logging
import Testing
import VXShared
@testable import VAD

/// The stage in-process, on streams made here, with the energy engine (so the
/// speech is a noise burst whose edges are exact): what it forwards, what it
/// inserts, where and when.
struct VoiceActivityDetectorTests {
    final class MemorySource: ByteSource {
        let name = "memory"
        private let bytes: [UInt8]
        private var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let n = min(buffer.count, bytes.count - offset, 1_000)
            buffer.copyMemory(from: UnsafeRawBufferPointer(start: bytes.withUnsafeBytes { $0.baseAddress! + offset }, count: n))
            offset += n
            return n
        }
        func resume() throws -> Bool { false }
        func close() {}
    }

    /// Collects what the stage writes; readable from another thread.
    final class MemorySink: ByteSink, @unchecked Sendable {
        let name = "memory"
        private let lock = NSLock()
        private var collected: [UInt8] = []
        private var isClosed = false
        var greeting: (() -> [UInt8])?
        func write(_ buffer: UnsafeRawBufferPointer) throws { lock.withLock { collected += buffer } }
        func close() { lock.withLock { isClosed = true } }
        var snapshot: [UInt8] { lock.withLock { collected } }
        var count: Int { lock.withLock { collected.count } }
        var closed: Bool { lock.withLock { isClosed } }
    }

    static let logger = Logger(label: "vx-vad-test") { _ in SwiftLogNoOpLogHandler() }

    /// A stretch: `parts` of (seconds, loud?) as 20 ms frames; loud parts are white noise at about -25 dBFS.
    static func stretch(_ parts: [(Double, Bool)], format: AudioFormat = .pipeline, start: UInt64 = 0,
                        stop: Bool = true) -> [Frame] {
        var random = SplitMix(seed: 7)
        var frames: [Frame] = [.event(.audioStart(format, timestamp: start))]
        var position = 0
        let chunk = format.rate / 50
        for (seconds, loud) in parts {
            let count = Int(seconds * Double(format.rate))
            for first in stride(from: 0, to: count, by: chunk) {
                var pcm: [UInt8] = []
                for _ in 0..<min(chunk, count - first) {
                    let x = loud ? Double(Int64(random.next() % 65_536) - 32_768) / 32_768 * 0.1 : 0
                    for _ in 0..<format.channels {
                        if format.width == 2 {
                            let v = Int16((x * 32_767).rounded())
                            pcm += [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)]
                        } else {
                            let v = Int32((x * 2_147_483_647).rounded())
                            pcm += (0..<4).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
                        }
                    }
                }
                frames.append(.audio(AudioChunk(timestamp: start + format.nanoseconds(forFrames: position + first), pcm: pcm)))
            }
            position += count
        }
        if stop { frames.append(.event(.audioStop(timestamp: start + format.nanoseconds(forFrames: position)))) }
        return frames
    }

    static func energy() -> VADConfiguration { VADConfiguration(engine: .energy(.init())) }

    /// Runs the stage over `input` bytes; returns the output frames.
    static func run(_ input: [UInt8], _ configuration: VADConfiguration = energy()) throws -> (frames: [Frame], bytes: [UInt8]) {
        let sink = MemorySink()
        let detector = try VoiceActivityDetector(configuration: configuration, logger: logger)
        try detector.run(reader: FrameReader(source: MemorySource(input), logger: logger), writer: FrameWriter(sink: sink))
        #expect(sink.closed)
        var decoder = FrameDecoder()
        decoder.append(contentsOf: sink.snapshot)
        var frames: [Frame] = []
        while let frame = try decoder.next() { frames.append(frame) }
        return (frames, sink.snapshot)
    }

    static func encode(_ frames: [Frame]) -> [UInt8] { frames.flatMap { FrameEncoder.encode($0) } }

    static func isVoice(_ frame: Frame) -> Bool {
        frame.event.map { $0.type == EventType.voiceStarted || $0.type == EventType.voiceStopped } ?? false
    }

    @Test func forwardsEveryFrameUnchangedAndInsertsVoiceEventsAtDecisionTime() throws {
        let input = Self.stretch([(1, false), (1, true), (1, false)])
        // An event the stage does not know, in its own spelling, goes through byte for byte.
        let ping = Array(#"{ "type": "ping", "data": { "text": "hi" } }"#.utf8)
        let pingFrame: [UInt8] = [0x56, 0x58, 0x01, 0x45] + withUnsafeBytes(of: UInt32(ping.count).bigEndian, Array.init) + ping
        let inputBytes = Self.encode(Array(input[0..<10])) + pingFrame + Self.encode(Array(input[10...]))
        let (output, bytes) = try Self.run(inputBytes)

        // Remove the inserted events: what is left is the input, byte for byte.
        var forwarded: [UInt8] = []
        for frame in output where !Self.isVoice(frame) {
            forwarded += FrameEncoder.encode(frame)  // a decoded event keeps the bytes it came in
        }
        #expect(forwarded == inputBytes)
        #expect(bytes.count == inputBytes.count + output.filter(Self.isVoice).map { FrameEncoder.encode($0).count }.reduce(0, +))
        #expect(bytes.count > inputBytes.count)

        let voice = output.enumerated().filter { Self.isVoice($0.element) }
        try #require(voice.count == 2)
        let (startIndex, started) = (voice[0].offset, voice[0].element.event!)
        let (stopIndex, stopped) = (voice[1].offset, voice[1].element.event!)
        #expect(started.type == "voice-started" && stopped.type == "voice-stopped")
        #expect(started["timestamp_ns"] == 1_000_000_000 && started["timestamp"] == 1_000)
        #expect(started["preroll_ns"] == 600_000_000)
        // The burst ends at 2 s; the high-pass filter may ring into the next 10 ms frame.
        let end = try #require(stopped.timestampNanoseconds)
        #expect(end == 2_000_000_000 || end == 2_010_000_000)
        #expect(stopped["reason"] == "silence")
        // Written right after the audio that decided them: 200 ms of speech, 600 ms of silence after the end.
        #expect(output[startIndex - 1].audio?.timestamp == 1_180_000_000)
        let decidedIn = try #require(output[stopIndex - 1].audio?.timestamp)
        #expect(decidedIn < end + 600_000_000 && end + 600_000_000 <= decidedIn + 20_000_000)
    }

    @Test func anUtteranceOpenAtAudioStopIsClosedJustBeforeIt() throws {
        let (output, _) = try Self.run(Self.encode(Self.stretch([(1, false), (1, true)])))
        let events = output.compactMap(\.event)
        #expect(events.map(\.type) == ["audio-start", "voice-started", "voice-stopped", "audio-stop"])
        #expect(events[2]["reason"] == "audio-stop" && events[2]["timestamp_ns"] == 2_000_000_000)
    }

    @Test func anUtteranceOpenWhenTheInputEndsIsClosed() throws {
        let (output, _) = try Self.run(Self.encode(Self.stretch([(1, false), (1, true)], stop: false)))
        #expect(output.compactMap(\.event).map(\.type) == ["audio-start", "voice-started", "voice-stopped"])
        #expect(output.last?.event?["reason"] == "audio-stop")
    }

    @Test func eachStretchIsItsOwnAndOtherFormatsGiveTheSameTimes() throws {
        let wide = AudioFormat(rate: 48_000, width: 4, channels: 2)
        let input = Self.stretch([(1, false), (0.5, true), (1, false)])
            + Self.stretch([(0.5, false), (0.5, true), (1, false)], format: wide, start: 5_000_000_000)
        let (output, _) = try Self.run(Self.encode(input))
        #expect(output.filter { !Self.isVoice($0) } == input)
        let voice = output.compactMap(\.event).filter { $0.type.hasPrefix("voice") }
        #expect(voice.map(\.type) == ["voice-started", "voice-stopped", "voice-started", "voice-stopped"])
        let times = voice.compactMap(\.timestampNanoseconds)
        let expected: [UInt64] = [1_000_000_000, 1_500_000_000, 5_500_000_000, 6_000_000_000]
        // Within one 10 ms frame: the high-pass filter may ring past the end of a burst.
        #expect(times.count == 4 && zip(times, expected).allSatisfy { $0 >= $1 && $0 <= $1 + 10_000_000 }, "\(times)")
        // Pre-roll never reaches back before its stretch.
        #expect(voice[2]["preroll_ns"] == 5_100_000_000)
    }

    @Test func stopClosesTheUtteranceAndTheStretch() throws {
        // Upstream is still going (no audio-stop, the pipe stays open) when a signal stops the stage.
        let input = Self.stretch([(0.5, false), (1, true)], stop: false)
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let bytes = Self.encode(input)
        bytes.withUnsafeBytes { _ = write(fds[1], $0.baseAddress, $0.count) }
        let sink = MemorySink()
        let detector = try VoiceActivityDetector(configuration: Self.energy(), logger: Self.logger)
        let reader = FrameReader(source: PipeSource(fd: fds[0]), logger: Self.logger)
        let writer = FrameWriter(sink: sink)
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let run = { try? detector.run(reader: reader, writer: writer) }
        Thread.detachNewThread {
            run()
            finished.signal()
        }
        // Until all of the input has been forwarded, with the voice-started.
        for _ in 0..<500 where sink.count < bytes.count + 60 { usleep(10_000) }
        detector.stop()
        close(fds[1])
        #expect(finished.wait(timeout: .now() + 10) == .success)
        var decoder = FrameDecoder()
        decoder.append(contentsOf: sink.snapshot)
        var output: [Frame] = []
        while let frame = try decoder.next() { output.append(frame) }
        #expect(Array(output.filter { !Self.isVoice($0) }.prefix(input.count)) == input)
        #expect(output.compactMap(\.event).map(\.type) == ["audio-start", "voice-started", "voice-stopped", "audio-stop"])
        #expect(output.last?.event?.timestampNanoseconds == 1_500_000_000)
        #expect(sink.closed)
    }

    final class PipeSource: ByteSource {
        let name = "pipe"
        let fd: Int32
        init(fd: Int32) { self.fd = fd }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { max(0, Glibc.read(fd, buffer.baseAddress, buffer.count)) }
        func resume() throws -> Bool { false }
        func close() {}
    }
}
