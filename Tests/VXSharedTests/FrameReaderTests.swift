import Logging
import Synchronization
import Testing
import VXShared

/// An in-memory source that hands out each stream in small random pieces. After the
/// end of a stream, `resume()` moves to the next one; after the last it returns false.
private final class PieceSource: ByteSource {
    let name = "memory"
    private var streams: [[UInt8]]
    private var position = 0
    private var generator: SplitMix64
    private let maxPiece: Int
    private(set) var readsAfterEnd = 0
    private var over = false

    init(_ streams: [[UInt8]], seed: UInt64 = 1, maxPiece: Int = 7) {
        self.streams = streams
        self.generator = SplitMix64(seed: seed)
        self.maxPiece = maxPiece
    }

    convenience init(_ bytes: [UInt8], seed: UInt64 = 1, maxPiece: Int = 7) {
        self.init([bytes], seed: seed, maxPiece: maxPiece)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if over { readsAfterEnd += 1 }
        guard let stream = streams.first, position < stream.count else { return 0 }
        let n = min(buffer.count, stream.count - position, Int.random(in: 1...maxPiece, using: &generator))
        buffer.copyBytes(from: stream[position..<position + n])
        position += n
        return n
    }

    func resume() throws -> Bool {
        if !streams.isEmpty { streams.removeFirst() }
        position = 0
        over = streams.isEmpty
        return !over
    }

    func close() {}
}

/// Keeps the messages logged through it.
private struct RecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        recorder.messages.withLock { $0.append("\(event.level) \(event.message)") }
    }
}

private final class LogRecorder: Sendable {
    let messages = Mutex<[String]>([])
    var logger: Logger {
        Logger(label: "test") { _ in RecordingLogHandler(recorder: self) }
    }
}

private let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

private func encode(_ frames: [Frame]) -> [UInt8] { CodecFixtures.encode(frames) }

/// Reads until the end, returning the frames; an error is thrown on.
private func readAll(_ reader: FrameReader) throws -> [Frame] {
    var frames: [Frame] = []
    while let frame = try reader.next() { frames.append(frame) }
    return frames
}

private let stereo32 = AudioFormat(rate: 48_000, width: 4, channels: 2)

// MARK: - Valid streams

@Test(arguments: 1...8)
func readerYieldsEveryFrameOfAValidStreamThenNil(seed: Int) throws {
    let bytes = encode(CodecFixtures.mixedFrames)
    let source = PieceSource(bytes, seed: UInt64(seed), maxPiece: seed * 5)
    let reader = FrameReader(source: source, logger: quiet)
    #expect(try readAll(reader) == CodecFixtures.mixedFrames)
    #expect(reader.offset == bytes.count)
    #expect(reader.format == .pipeline)
    #expect(try reader.next() == nil)
    #expect(source.readsAfterEnd == 0)
}

@Test func readerOfAnEmptyInputEndsCleanly() throws {
    let reader = FrameReader(source: PieceSource([UInt8]()), logger: quiet)
    #expect(try reader.next() == nil)
    #expect(reader.format == nil)
}

@Test func readerReadsTheTextFormAndItsLastUnterminatedLine() throws {
    let text = "# text\n{\"type\":\"audio-start\",\"data\":{\"rate\":16000,\"width\":2,\"channels\":1}}\r\n"
        + "{\"type\":\"audio-chunk\",\"data\":{\"timestamp_ns\":7,\"pcm\":\"AAAAAA==\"}}\n{\"type\":\"audio-stop\"}"
    let reader = FrameReader(source: PieceSource(Array(text.utf8)), logger: quiet)
    let frames = try readAll(reader)
    #expect(frames == [
        .event(Event(EventType.audioStart, ["rate": 16_000, "width": 2, "channels": 1])),
        .audio(AudioChunk(timestamp: 7, pcm: [0, 0, 0, 0])),
        .event(Event(EventType.audioStop)),
    ])
    #expect(reader.format == .pipeline)
}

@Test func formatFollowsTheLatestAudioStart() throws {
    let frames: [Frame] = [
        .event(.audioStart(.pipeline, timestamp: 0)),
        .audio(AudioChunk(timestamp: 0, pcm: CodecFixtures.pcm16([1, 2, 3]))),
        .event(.audioStop(timestamp: 187_500)),
        .event(.audioStart(stereo32, timestamp: 1_000_000)),
        .audio(AudioChunk(timestamp: 1_000_000, pcm: [UInt8](repeating: 1, count: 16))),
    ]
    let reader = FrameReader(source: PieceSource(encode(frames)), logger: quiet)
    var formats: [AudioFormat?] = []
    while try reader.next() != nil { formats.append(reader.format) }
    #expect(formats == [.pipeline, .pipeline, .pipeline, stereo32, stereo32])
}

// MARK: - Stream rules

@Test func audioBeforeAudioStartIsBadAudioNamingItsOffset() throws {
    let ping = encode([.event(Event(EventType.ping))])
    let bytes = ping + encode([.audio(AudioChunk(timestamp: 0, pcm: [0, 0]))])
    let reader = FrameReader(source: PieceSource(bytes), logger: quiet)
    #expect(try reader.next() == .event(Event(EventType.ping)))
    let error = #expect(throws: FrameError.self) { try reader.next() }
    #expect(error == .badAudio(offset: ping.count, reason: "audio comes before any audio-start declares its format"))
    #expect(error?.description.contains("audio-start") == true)
}

@Test func audioAfterAudioStopStillUsesTheStretchFormat() throws {
    // The format lasts until the next audio-start, not until audio-stop.
    let frames: [Frame] = [
        .event(.audioStart(.pipeline, timestamp: 0)),
        .event(.audioStop(timestamp: 0)),
        .audio(AudioChunk(timestamp: 0, pcm: [0, 0])),
    ]
    #expect(try readAll(FrameReader(source: PieceSource(encode(frames)), logger: quiet)) == frames)
}

@Test(arguments: [
    (AudioFormat.pipeline, 1), (.pipeline, 3), (.pipeline, 641),
    (AudioFormat(rate: 16_000, width: 2, channels: 2), 6), (stereo32, 4), (stereo32, 12), (stereo32, 20),
])
func pcmThatIsNotWholeSampleFramesIsBadAudio(format: AudioFormat, byteCount: Int) throws {
    let start = encode([.event(.audioStart(format, timestamp: 0))])
    let good = encode([.audio(AudioChunk(timestamp: 0, pcm: [UInt8](repeating: 0, count: format.bytesPerFrame * 3)))])
    let bad = encode([.audio(AudioChunk(timestamp: 0, pcm: [UInt8](repeating: 0, count: byteCount)))])
    let reader = FrameReader(source: PieceSource(start + good + bad), logger: quiet)
    #expect(try reader.next() != nil)
    #expect(try reader.next() != nil)
    let error = #expect(throws: FrameError.self) { try reader.next() }
    let reason = "\(byteCount) bytes is not a whole number of \(format.bytesPerFrame)-byte sample frames"
    #expect(error == .badAudio(offset: start.count + good.count, reason: reason))
}

@Test(arguments: [
    (["rate": 16_000, "width": 3, "channels": 1] as [String: JSONValue], "width 3"),
    (["rate": 0, "width": 2, "channels": 1], "rate 0"),
    (["rate": 800_000, "width": 2, "channels": 1], "rate 800000"),
    (["rate": 16_000, "width": 2, "channels": 33], "channels 33"),
    (["rate": 16_000, "width": 2], "integer rate, width and channels"),
])
func audioStartWithAnUnusableFormatIsBadEvent(data: [String: JSONValue], mentions: String) throws {
    let ping = encode([.event(Event(EventType.ping))])
    let reader = FrameReader(source: PieceSource(ping + encode([.event(Event(EventType.audioStart, data))])), logger: quiet)
    #expect(try reader.next() != nil)
    let error = #expect(throws: FrameError.self) { try reader.next() }
    guard case .badEvent(let offset, let reason)? = error else {
        Issue.record("expected badEvent, got \(String(describing: error))")
        return
    }
    #expect(offset == ping.count)
    #expect(reason.contains("audio-start"))
    #expect(reason.contains(mentions))
    #expect(reader.format == nil)
}

@Test func badAudioStartInTheTextFormNamesTheLineOffset() throws {
    let first = "{\"type\":\"ping\"}\n"
    let text = first + "{\"type\":\"audio-start\",\"data\":{\"rate\":16000,\"width\":3,\"channels\":1}}\n"
    let reader = FrameReader(source: PieceSource(Array(text.utf8)), logger: quiet)
    #expect(try reader.next() != nil)
    #expect(throws: FrameError.badEvent(offset: first.utf8.count, reason: "audio-start: width 3 is not 2 or 4 bytes")) {
        try reader.next()
    }
}

@Test
func badAudioStartAfterACommentNamesItsOwnLineOffset() throws {
    let comment = "# a comment\n"
    let text = comment + "{\"type\":\"audio-start\",\"data\":{\"rate\":16000,\"width\":3,\"channels\":1}}\n"
    // Read in one piece: the comment and the line are decoded by the same `next()` call.
    let reader = FrameReader(source: PieceSource(Array(text.utf8), maxPiece: 4096), logger: quiet)
    #expect(throws: FrameError.badEvent(offset: comment.utf8.count, reason: "audio-start: width 3 is not 2 or 4 bytes")) {
        try reader.next()
    }
}

@Test func decoderErrorsComeThroughTheReaderUnchanged() throws {
    let bytes = encode([.event(Event(EventType.ping))]) + CodecFixtures.header(kind: 0x45, length: 2_000)
    let reader = FrameReader(source: PieceSource(bytes), maxPayload: 1_000, logger: quiet)
    #expect(try reader.next() != nil)
    #expect(throws: FrameError.frameTooLarge(offset: bytes.count - 8, length: 2_000, limit: 1_000)) {
        try reader.next()
    }
}

@Test func notAFrameStreamComesThroughTheReader() throws {
    let reader = FrameReader(source: PieceSource(Array("hi\n".utf8)), logger: quiet)
    let error = #expect(throws: FrameError.self) { try reader.next() }
    #expect(error?.description.contains("input is not a vx frame stream (did you mean vx-capture?)") == true)
}

// MARK: - End of input

@Test func streamEndingInsideAFrameIsTruncatedWhenNoStreamFollows() throws {
    let complete = encode(Array(CodecFixtures.mixedFrames.prefix(2)))
    let last = encode([.event(Event(EventType.ping))])
    let reader = FrameReader(source: PieceSource(complete + last.dropLast(3)), logger: quiet)
    #expect(try reader.next() != nil)
    #expect(try reader.next() != nil)
    #expect(throws: FrameError.truncatedFrame(offset: complete.count, expected: last.count, got: last.count - 3)) {
        try reader.next()
    }
}

@Test func frameCutByAVanishedPeerIsDroppedWithAWarningAndTheNextStreamRead() throws {
    let first = encode([.event(Event(EventType.ping))])
    let second = encode([.event(Event(EventType.pong)), .event(.audioStart(.pipeline, timestamp: 0))])
    let recorder = LogRecorder()
    let source = PieceSource([first + first.dropLast(2), second])
    let reader = FrameReader(source: source, logger: recorder.logger)
    #expect(try readAll(reader) == [
        .event(Event(EventType.ping)), .event(Event(EventType.pong)), .event(.audioStart(.pipeline, timestamp: 0)),
    ])
    #expect(reader.offset == second.count)  // offsets count from the start of the current connection
    #expect(recorder.messages.withLock { $0 } == ["warning peer went away inside a frame; dropped it"])
}

@Test func eachConnectionIsDecodedAsAStreamOfItsOwnForm() throws {
    let text = Array("{\"type\":\"ping\"}".utf8)  // a last line without newline, then a binary stream
    let binary = encode([.event(Event(EventType.pong))])
    let reader = FrameReader(source: PieceSource([text, binary, text]), logger: quiet)
    #expect(try readAll(reader) == [
        .event(Event(EventType.ping)), .event(Event(EventType.pong)), .event(Event(EventType.ping)),
    ])
}

@Test
func newConnectionNeedsItsOwnAudioStart() throws {
    let first = encode([.event(.audioStart(.pipeline, timestamp: 0)), .audio(AudioChunk(timestamp: 0, pcm: [0, 0]))])
    let second = encode([.audio(AudioChunk(timestamp: 0, pcm: [0, 0]))])
    let reader = FrameReader(source: PieceSource([first, second]), logger: quiet)
    #expect(try reader.next() != nil)
    #expect(try reader.next() != nil)
    #expect(throws: FrameError.badAudio(offset: 0, reason: "audio comes before any audio-start declares its format")) {
        try reader.next()
    }
}

// MARK: - AudioFormat

/// floor(frames × 10⁹ / rate), computed in 128 bits as the protocol defines stream time.
private func exactNanoseconds(frames: UInt64, rate: UInt64) -> UInt64 {
    let product = frames.multipliedFullWidth(by: 1_000_000_000)
    return rate.dividingFullWidth((product.high, product.low)).quotient
}

@Test(arguments: [8_000, 16_000, 22_050, 44_100, 48_000])
func sampleTimestampsRoundTripExactly(rate: Int) {
    let format = AudioFormat(rate: rate, width: 2, channels: 1)
    var generator = SplitMix64(seed: UInt64(rate))
    // Every frame of the first 3 seconds, then random counts up to about 4 days of audio at 48 kHz.
    let counts = Array(0..<(3 * rate)) + (0..<20_000).map { _ in Int.random(in: 0...16_000_000_000, using: &generator) }
        + [rate * 86_400, 16_000_000_000]
    var wrongTime: [Int] = []
    var wrongFrames: [Int] = []
    for frames in counts {
        let ns = format.nanoseconds(forFrames: frames)
        if ns != exactNanoseconds(frames: UInt64(frames), rate: UInt64(rate)) { wrongTime.append(frames) }
        if format.frames(forNanoseconds: ns) != frames { wrongFrames.append(frames) }
    }
    #expect(wrongTime.isEmpty, "stream time is not floor(n * 1e9 / rate) for \(wrongTime.prefix(5)) frames")
    #expect(wrongFrames.isEmpty, "frame index not recovered for \(wrongFrames.prefix(5)) frames")
}

@Test(arguments: [8_000, 22_050, 768_000])
func everySampleHasALaterTimestampThanTheOneBefore(rate: Int) {
    let format = AudioFormat(rate: rate, width: 2, channels: 1)
    let times = (0...rate).map { format.nanoseconds(forFrames: $0) }
    #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 })
}

@Test
func sampleTimestampsRoundTripAfterAWeekOfAudio() {
    for rate in [16_000, 48_000, 768_000] {
        let format = AudioFormat(rate: rate, width: 2, channels: 1)
        let frames = rate * 7 * 86_400 + 1
        #expect(format.frames(forNanoseconds: format.nanoseconds(forFrames: frames)) == frames)
    }
}

@Test func oneSecondOfFramesIsExactlyOneSecond() {
    for rate in [8_000, 16_000, 22_050, 44_100, 48_000, 768_000] {
        let format = AudioFormat(rate: rate, width: 2, channels: 1)
        #expect(format.nanoseconds(forFrames: rate) == 1_000_000_000)
        #expect(format.frames(forNanoseconds: 1_000_000_000) == rate)
    }
}

@Test func nanosecondsRoundToTheNearestFrame() {
    let format = AudioFormat.pipeline  // one frame is 62 500 ns
    #expect(format.frames(forNanoseconds: 31_249) == 0)
    #expect(format.frames(forNanoseconds: 31_250) == 1)
    #expect(format.frames(forNanoseconds: 93_749) == 1)
    #expect(format.frames(forNanoseconds: 93_750) == 2)
    #expect(AudioFormat(rate: 44_100, width: 2, channels: 1).nanoseconds(forFrames: 1) == 22_675)
}

@Test(arguments: [
    (AudioFormat.pipeline, nil),
    (AudioFormat(rate: 1, width: 4, channels: 32), nil),
    (AudioFormat(rate: 768_000, width: 2, channels: 1), nil),
    (AudioFormat(rate: 0, width: 2, channels: 1), "rate 0 is not from 1 to 768000 Hz"),
    (AudioFormat(rate: 768_001, width: 2, channels: 1), "rate 768001 is not from 1 to 768000 Hz"),
    (AudioFormat(rate: -16_000, width: 2, channels: 1), "rate -16000 is not from 1 to 768000 Hz"),
    (AudioFormat(rate: 16_000, width: 1, channels: 1), "width 1 is not 2 or 4 bytes"),
    (AudioFormat(rate: 16_000, width: 3, channels: 1), "width 3 is not 2 or 4 bytes"),
    (AudioFormat(rate: 16_000, width: 2, channels: 0), "channels 0 is not from 1 to 32"),
    (AudioFormat(rate: 16_000, width: 2, channels: 33), "channels 33 is not from 1 to 32"),
] as [(AudioFormat, String?)])
func audioFormatSaysWhyItCannotBeUsed(format: AudioFormat, problem: String?) {
    #expect(format.problem == problem)
}

@Test func audioFormatDescribesItselfForPeople() {
    #expect(AudioFormat.pipeline.description == "16000 Hz, 16-bit, mono")
    #expect(stereo32.description == "48000 Hz, 32-bit, stereo")
    #expect(AudioFormat(rate: 8_000, width: 2, channels: 6).description == "8000 Hz, 16-bit, 6 channels")
    #expect(stereo32.bytesPerFrame == 8)
}

// MARK: - Endpoint

@Test(arguments: [
    ("-", Endpoint.stdio),
    ("connect:/x", .connect("/x")),
    ("listen:/x", .listen("/x")),
    ("connect:relative/vx.sock", .connect("relative/vx.sock")),
    ("listen:/run/vx/a b.sock", .listen("/run/vx/a b.sock")),
    ("listen:connect:/x", .listen("connect:/x")),
])
func endpointParsesItsThreeForms(text: String, expected: Endpoint) {
    #expect(Endpoint(text) == expected)
    #expect(Endpoint(argument: text) == expected)
    #expect(expected.description == text)
    #expect(expected.isStdio == (text == "-"))
}

@Test(arguments: ["", "--", " -", "- ", "stdio", "/x", "connect", "connect:", "listen:", "listen", "Connect:/x", "unix:/x",
                  "tcp:localhost:1"])
func endpointRejectsAnythingElse(_ text: String) {
    #expect(Endpoint(text) == nil)
    #expect(Endpoint(argument: text) == nil)
}
