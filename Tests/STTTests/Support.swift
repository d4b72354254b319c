import Foundation
import Logging
import Testing
@testable import STT
import VXShared

/// Real speech for the tests: a human recording from pocketsphinx-testdata and
/// sentences spoken by flite.
enum Speech {
    /// "go forward ten meters", 16 kHz mono 16-bit raw, a human speaker.
    static let goForwardPath = "/usr/share/pocketsphinx/test/data/goforward.raw"
    static let goForwardText = "go forward ten meters"

    static let sentences = [
        "please turn off the lights in the kitchen",
        "what is the weather like today",
        "set an alarm for seven in the morning",
        "call my mother tomorrow afternoon",
        "play some music in the living room",
        "how many days are left until the weekend",
    ]

    static func goForward() throws -> [Int16] { try samples(rawFile: goForwardPath) }

    static func samples(rawFile path: String) throws -> [Int16] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
    }

    /// The best flite voice for recognition that is installed: kal16 (16 kHz), else kal, else slt.
    static let fliteVoice: String = {
        let listing = (try? run(["flite", "-lv"]).output) ?? ""
        let voices = Set(listing.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        return ["kal16", "kal", "slt"].first { voices.contains($0) } ?? "kal16"
    }()

    /// `text` spoken by flite, as 16 kHz mono 16-bit samples (sox converts if the voice is not 16 kHz).
    static func flite(_ text: String) throws -> [Int16] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vx-stt-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let wav = dir.appendingPathComponent("speech.wav"), raw = dir.appendingPathComponent("speech.raw")
        let spoken = try run(["flite", "-voice", fliteVoice, "-t", text, "-o", wav.path])
        try #require(spoken.status == 0, "flite failed: \(spoken.output)")
        let converted = try run(["sox", wav.path, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-t", "raw", raw.path])
        try #require(converted.status == 0, "sox failed: \(converted.output)")
        return try samples(rawFile: raw.path)
    }

    static func silence(seconds: Double) -> [Int16] { [Int16](repeating: 0, count: Int(seconds * 16_000)) }

    /// Runs a command to the end; output is stdout and stderr together.
    static func run(_ argv: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

/// Decodes `samples` in 20 ms pieces as vx-stt does, asking for a partial after each.
func transcribe(_ samples: [Int16], with engine: any Transcriber) throws -> (text: String, partials: [String]) {
    try engine.start()
    var partials: [String] = []
    var i = 0
    while i < samples.count {
        let n = min(320, samples.count - i)
        try samples[i..<i + n].withUnsafeBufferPointer { try engine.feed($0) }
        i += n
        if let p = engine.partial(), p != partials.last { partials.append(p) }
    }
    return (try engine.finish(), partials)
}

/// Frames for hand-made streams.
enum Frames {
    static let second: UInt64 = 1_000_000_000

    static func pcm(_ samples: some Collection<Int16>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(samples.count * 2)
        for s in samples {
            let u = UInt16(bitPattern: s)
            out.append(UInt8(u & 0xff))
            out.append(UInt8(u >> 8))
        }
        return out
    }

    /// `samples` as 20 ms audio frames, the first at stream time `start`.
    static func audio(_ samples: [Int16], from start: UInt64, chunk: Int = 320) -> [Frame] {
        stride(from: 0, to: samples.count, by: chunk).map { i in
            .audio(AudioChunk(timestamp: start + AudioFormat.pipeline.nanoseconds(forFrames: i),
                              pcm: pcm(samples[i..<min(i + chunk, samples.count)])))
        }
    }

    static func event(_ type: String, _ data: [String: JSONValue] = [:]) -> Frame { .event(Event(type, data)) }

    static func voiceStarted(onset: UInt64, preroll: UInt64) -> Frame {
        event(EventType.voiceStarted, ["timestamp": .int(Int64(onset / 1_000_000)), "timestamp_ns": .int(Int64(onset)),
                                       "preroll_ns": .int(Int64(preroll))])
    }

    static func voiceStopped(at end: UInt64, reason: String = "silence") -> Frame {
        event(EventType.voiceStopped, ["timestamp": .int(Int64(end / 1_000_000)), "timestamp_ns": .int(Int64(end)),
                                       "reason": .string(reason)])
    }

    static func bytes(_ frames: [Frame]) -> [UInt8] {
        var out: [UInt8] = []
        for frame in frames { FrameEncoder.encode(frame, into: &out) }
        return out
    }

    static func decode(_ bytes: [UInt8]) throws -> [Frame] {
        var decoder = FrameDecoder()
        decoder.append(contentsOf: bytes)
        var frames: [Frame] = []
        while let frame = try decoder.next() { frames.append(frame) }
        return frames
    }
}

/// A whole stream held in memory.
final class MemorySource: ByteSource {
    let name = "memory"
    private let bytes: [UInt8]
    private var position = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - position, 4_096)
        buffer.copyBytes(from: bytes[position..<position + n])
        position += n
        return n
    }

    func resume() throws -> Bool { false }
    func close() {}
}

/// A stream the test writes while the stage reads it: the read end of a pipe.
final class PipeSource: ByteSource, @unchecked Sendable {
    let name = "pipe"
    let readEnd: Int32
    let writeEnd: Int32

    init() {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0)
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    func send(_ frames: [Frame]) {
        let bytes = Frames.bytes(frames)
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(writeEnd, raw.baseAddress! + done, raw.count - done)
                precondition(n > 0)
                done += n
            }
        }
    }

    func endInput() { Glibc.close(writeEnd) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        Glibc.read(readEnd, buffer.baseAddress, buffer.count)
    }

    func resume() throws -> Bool { false }
    func close() {}
}

/// Collects what a stage writes; a test can wait for a frame to appear.
final class MemorySink: ByteSink, @unchecked Sendable {
    let name = "memory"
    var greeting: (() -> [UInt8])?
    private let condition = NSCondition()
    private var bytes: [UInt8] = []

    func write(_ data: UnsafeRawBufferPointer) throws {
        condition.lock()
        bytes.append(contentsOf: data)
        condition.broadcast()
        condition.unlock()
    }

    func close() {}

    func frames() throws -> [Frame] {
        condition.lock()
        defer { condition.unlock() }
        return try Frames.decode(bytes)
    }

    func events() throws -> [Event] { try frames().compactMap(\.event) }

    /// Waits until the events written satisfy `done`; false if they did not within `timeout`
    /// seconds (a guard against hanging, not a measurement).
    func waitUntil(timeout: Double = 30, _ done: ([Event]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let frames = try? Frames.decode(bytes), done(frames.compactMap(\.event)) { return true }
            if !condition.wait(until: deadline) { return false }
        }
    }
}

/// A transcriber the test controls: it records what it is fed, says how many
/// samples it has heard as its partial, and answers `finish()` from a script.
final class FakeTranscriber: Transcriber, @unchecked Sendable {
    let name = "fake"
    let supportsPartials = true
    private let lock = NSLock()
    private(set) var calls: [String] = []
    private(set) var fed: [[Int16]] = []
    private var current: [Int16] = []
    /// The texts `finish()` returns, one per utterance (then "utterance N").
    var finals: [String] = []
    /// Utterances (1-based) whose `finish()` throws.
    var failingFinishes: Set<Int> = []
    /// When set, `finish()` waits until it is signalled.
    var finishGate: DispatchSemaphore?
    /// Runs inside each `finish()`, e.g. to move a test clock on as if decoding took time.
    var onFinish: (() -> Void)?
    private var finished = 0

    func start() throws {
        lock.withLock { calls.append("start"); current = [] }
    }

    func feed(_ samples: UnsafeBufferPointer<Int16>) throws {
        lock.withLock { current.append(contentsOf: samples) }
    }

    func partial() -> String? {
        lock.withLock { current.isEmpty ? nil : "heard \(current.count / 1_600 * 100) ms" }
    }

    func finish() throws -> String {
        finishGate?.wait()
        onFinish?()
        return try lock.withLock {
            calls.append("finish")
            fed.append(current)
            finished += 1
            if failingFinishes.contains(finished) { throw STTError.decodeFailed(call: "fake finish", code: -1) }
            return finished <= finals.count ? finals[finished - 1] : "utterance \(finished)"
        }
    }
}

/// A logger that drops everything.
let quietLogger = Logger(label: "stt-tests") { _ in SwiftLogNoOpLogHandler() }

/// A 16-bit ramp: sample i holds i modulo 30 000, so fed audio shows where it came from.
func ramp(_ count: Int, from first: Int = 0) -> [Int16] { (first..<first + count).map { Int16($0 % 30_000) } }
