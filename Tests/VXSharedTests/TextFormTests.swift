import Testing
import VXShared

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A hand-written text stream: comments, blank and whitespace-only lines, CRLF, indentation,
/// escapes, and a last line without a newline.
private let handWrittenText = """
    # a hand-written stream\r
    \r
    {"type":"audio-start","data":{"rate":16000,"width":2,"channels":1,"timestamp":0}}\r
       \t
    \t# an indented comment
    {"type":"audio-chunk","data":{"timestamp_ns":5,"timestamp":999,"pcm":"AQID"}}
      {"type":"transcript","data":{"text":"h\\u00e9llo 🎙\\n"}}
    {"type":"audio-stop","data":{"timestamp":1}}
    """

private let handWrittenFrames: [Frame] = [
    .event(Event(EventType.audioStart, ["rate": 16_000, "width": 2, "channels": 1, "timestamp": 0])),
    .audio(AudioChunk(timestamp: 5, pcm: [1, 2, 3])),
    .event(Event(EventType.transcript, ["text": "héllo 🎙\n"])),
    .event(Event(EventType.audioStop, ["timestamp": 1])),
]

// MARK: - Decoding the text form

@Test(arguments: ["{\"type\":\"ping\"}\n", "#!comment\n{\"type\":\"ping\"}\n"])
func textFormIsChosenByAnOpeningBraceOrHash(_ text: String) throws {
    var decoder = FrameDecoder()
    #expect(decoder.form == nil)
    decoder.append(contentsOf: bytes(text))
    #expect(try decoder.next() == .event(Event(EventType.ping)))
    #expect(decoder.form == .text)
}

@Test func binaryFormIsChosenOnceMagicAndVersionArrive() throws {
    var decoder = FrameDecoder()
    decoder.append(contentsOf: [0x56, 0x58])
    #expect(try decoder.next() == nil)
    #expect(decoder.form == nil)
    decoder.append(contentsOf: [0x01])
    #expect(try decoder.next() == nil)
    #expect(decoder.form == .binary)
}

@Test func handWrittenTextStreamDecodesWhenSplitAtEveryBytePosition() throws {
    let input = bytes(handWrittenText)
    for index in 0...input.count {
        let decoded = try CodecFixtures.decode(CodecFixtures.split(input, at: index))
        #expect(decoded.frames == Array(handWrittenFrames.dropLast()), "split at \(index)")
        #expect(decoded.last == handWrittenFrames.last, "split at \(index)")
        #expect(decoded.offset == input.count, "split at \(index)")
    }
}

@Test func handWrittenTextStreamDecodesWhenFedOneByteAtATime() throws {
    let input = bytes(handWrittenText)
    let decoded = try CodecFixtures.decode(CodecFixtures.oneByteAtATime(input))
    #expect(decoded.frames + [decoded.last].compactMap { $0 } == handWrittenFrames)
    #expect(decoded.offset == input.count)
}

@Test func lastLineWithoutNewlineIsReturnedByFinish() throws {
    var decoder = FrameDecoder()
    decoder.append(contentsOf: bytes("{\"type\":\"ping\"}\n{\"type\":\"pong\"}"))
    #expect(try decoder.next() == .event(Event(EventType.ping)))
    #expect(try decoder.next() == nil)
    #expect(try decoder.finish() == .event(Event(EventType.pong)))
    #expect(try decoder.finish() == nil)
    #expect(decoder.offset == 31)
}

@Test func lastLineEndingInCarriageReturnIsReturnedByFinish() throws {
    let decoded = try CodecFixtures.decode([bytes("{\"type\":\"ping\"}\r\n{\"type\":\"pong\"}\r")])
    #expect(decoded.frames == [.event(Event(EventType.ping))])
    #expect(decoded.last == .event(Event(EventType.pong)))
}

@Test(arguments: ["# only a comment", "# a\n\n   \n# b\n", "#\r\n\r\n\t\r\n"])
func streamOfCommentsAndBlankLinesHasNoFrames(_ text: String) throws {
    let decoded = try CodecFixtures.decode([bytes(text)])
    #expect(decoded.frames.isEmpty)
    #expect(decoded.last == nil)
    #expect(decoded.offset == text.utf8.count)
}

@Test func skippedLinesCountTowardsTheLineNumberAndOffsetOfAnError() {
    let input = "# c\n\n{\"type\":\"ping\"}\r\n{bad\n"
    let error = #expect(throws: FrameError.self) { try CodecFixtures.decodeAll(bytes(input)) }
    guard case .badTextLine(let line, let offset, let reason)? = error else {
        Issue.record("expected badTextLine, got \(String(describing: error))")
        return
    }
    #expect(line == 4)
    #expect(offset == 4 + 1 + 17)
    #expect(reason.hasPrefix("not valid JSON"))
    #expect(error?.description.hasPrefix("bad text frame on line 4 (byte offset 22): not valid JSON") == true)
}

@Test func audioChunkWithPCMBecomesAnAudioFrameAtItsNanosecondTimestamp() throws {
    let line = "{\"type\":\"audio-chunk\",\"data\":{\"timestamp\":1,\"timestamp_ns\":1999999,\"pcm\":\"AAH/fw==\"}}\n"
    #expect(try CodecFixtures.decodeAll(bytes(line)) == [.audio(AudioChunk(timestamp: 1_999_999, pcm: [0, 1, 255, 127]))])
}

@Test func audioChunkWithOnlyAMillisecondTimestampUsesIt() throws {
    let line = "{\"type\":\"audio-chunk\",\"data\":{\"timestamp\":1234,\"pcm\":\"AAA=\"}}\n"
    #expect(try CodecFixtures.decodeAll(bytes(line)) == [.audio(AudioChunk(timestamp: 1_234_000_000, pcm: [0, 0]))])
}

@Test func audioChunkWithoutTimestampStartsAtZero() throws {
    let line = "{\"type\":\"audio-chunk\",\"data\":{\"pcm\":\"\"}}\n"
    #expect(try CodecFixtures.decodeAll(bytes(line)) == [.audio(AudioChunk(timestamp: 0, pcm: []))])
}

@Test func audioChunkWithoutPCMIsBadTextLineNamingLineAndOffset() {
    let first = "{\"type\":\"ping\"}\n"
    let input = first + "{\"type\":\"audio-chunk\",\"data\":{\"timestamp\":0,\"samples\":320}}\n"
    let error = #expect(throws: FrameError.self) { try CodecFixtures.decodeAll(bytes(input)) }
    guard case .badTextLine(let line, let offset, let reason)? = error else {
        Issue.record("expected badTextLine, got \(String(describing: error))")
        return
    }
    #expect(line == 2)
    #expect(offset == first.utf8.count)
    #expect(reason.contains("\"pcm\""))
    #expect(reason.contains("--text-pcm"))
}

@Test func summaryLineWrittenWithoutPCMCannotBeReadBack() {
    let line = TextForm.line(for: .audio(AudioChunk(timestamp: 0, pcm: [0, 0])), format: .pipeline)
    #expect(throws: FrameError.self) { try CodecFixtures.decodeAll(bytes(line + "\n")) }
}

@Test(arguments: ["not base64!", "AAA", "A===", "AA==AA=="])
func audioChunkWithInvalidBase64IsBadTextLine(_ pcm: String) {
    let input = "{\"type\":\"audio-chunk\",\"data\":{\"pcm\":\"\(pcm)\"}}\n"
    #expect(
        throws: FrameError.badTextLine(line: 1, offset: 0, reason: "audio-chunk \"pcm\" is not valid base64")
    ) {
        try CodecFixtures.decodeAll(bytes(input))
    }
}

@Test(arguments: [
    "{nope", "{\"type\":\"x\"", "[1]", "\"text\"", "plain words", "V", "{\"data\":{}}", "{\"type\":\"x\",\"data\":5}",
    "{\"type\":\"x\"} {\"type\":\"y\"}",
])
func lineThatIsNotAnEventIsBadTextLine(_ line: String) {
    let first = "{\"type\":\"ping\"}\n"
    let error = #expect(throws: FrameError.self) { try CodecFixtures.decodeAll(bytes(first + line + "\n")) }
    guard case .badTextLine(let number, let offset, _)? = error else {
        Issue.record("expected badTextLine, got \(String(describing: error))")
        return
    }
    #expect(number == 2)
    #expect(offset == first.utf8.count)
}

@Test func unterminatedLineLongerThanTheLimitIsRejectedBeforeItEnds() throws {
    // maxPayload 300 allows lines of 300 / 3 * 4 + 4096 = 4496 bytes.
    var decoder = FrameDecoder(maxPayload: 300)
    decoder.append(contentsOf: bytes("{\"type\":\"ping\"}\n{") + [UInt8](repeating: 0x20, count: 4495))
    #expect(try decoder.next() == .event(Event(EventType.ping)))
    #expect(try decoder.next() == nil)
    decoder.append(contentsOf: [0x20])
    #expect(throws: FrameError.badTextLine(line: 2, offset: 16, reason: "line is longer than 4496 bytes")) {
        try decoder.next()
    }
}

// MARK: - Writing the text form

@Test func eventLineIsItsCanonicalJSONTextOnOneLine() throws {
    // A decoded event that arrived with a newline inside its JSON is still written on one line.
    let payload = bytes("{\"data\":{\"text\":\"a\\nb\"},\n\"type\":\"transcript\"}")
    let frame = try #require(try CodecFixtures.decodeAll(CodecFixtures.eventFrame(payload)).first)
    let line = TextForm.line(for: frame, format: nil)
    #expect(line == "{\"type\":\"transcript\",\"data\":{\"text\":\"a\\nb\"}}")
}

struct AudioSummaryCase: Sendable, CustomTestStringConvertible {
    var format: AudioFormat
    var pcm: [UInt8]
    var samples: Int
    var durationMs: Double
    var peakDBFS: Double
    var testDescription: String { "\(format), \(pcm.count) bytes" }
}

private func pcm32(_ samples: [Int32]) -> [UInt8] {
    samples.flatMap { s in [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: s >> $0) } }
}

@Test(arguments: [
    AudioSummaryCase(format: .pipeline, pcm: CodecFixtures.pcm16([16_384] + [Int16](repeating: 0, count: 159)),
                     samples: 160, durationMs: 10, peakDBFS: -6),
    AudioSummaryCase(format: .pipeline, pcm: CodecFixtures.pcm16([Int16](repeating: 0, count: 320)),
                     samples: 320, durationMs: 20, peakDBFS: -120),
    AudioSummaryCase(format: .pipeline, pcm: CodecFixtures.pcm16([-32768]), samples: 1, durationMs: 0.063, peakDBFS: 0),
    AudioSummaryCase(format: .pipeline, pcm: CodecFixtures.pcm16([-3, 3277]), samples: 2, durationMs: 0.125, peakDBFS: -20),
    AudioSummaryCase(format: .pipeline, pcm: [], samples: 0, durationMs: 0, peakDBFS: -120),
    AudioSummaryCase(format: AudioFormat(rate: 44_100, width: 2, channels: 1),
                     pcm: CodecFixtures.pcm16([Int16](repeating: 100, count: 441)),
                     samples: 441, durationMs: 10, peakDBFS: -50.3),
    AudioSummaryCase(format: AudioFormat(rate: 44_100, width: 2, channels: 2), pcm: CodecFixtures.pcm16([1, 32767]),
                     samples: 1, durationMs: 0.023, peakDBFS: 0),
    AudioSummaryCase(format: AudioFormat(rate: 48_000, width: 4, channels: 2),
                     pcm: pcm32([1 << 30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -(1 << 29)]),
                     samples: 8, durationMs: 0.167, peakDBFS: -6),
])
func audioLineSummarisesSamplesDurationAndPeak(_ c: AudioSummaryCase) throws {
    let chunk = AudioChunk(timestamp: 1_234_567_890, pcm: c.pcm)
    let line = TextForm.line(for: .audio(chunk), format: c.format)
    #expect(!line.contains("\n"))
    let json = try JSONValue.parse(Array(line.utf8))
    #expect(json["type"] == "audio-chunk")
    let data = try #require(json["data"]?.object)
    #expect(Set(data.keys) == [
        "timestamp", "timestamp_ns", "bytes", "rate", "width", "channels", "samples", "duration_ms", "peak_dbfs",
    ])
    #expect(data["timestamp"] == 1234)
    #expect(data["timestamp_ns"] == 1_234_567_890)
    #expect(data["bytes"]?.int == c.pcm.count)
    #expect(data["rate"]?.int == c.format.rate)
    #expect(data["width"]?.int == c.format.width)
    #expect(data["channels"]?.int == c.format.channels)
    #expect(data["samples"]?.int == c.samples)
    #expect(data["duration_ms"]?.double == c.durationMs)
    #expect(data["peak_dbfs"]?.double == c.peakDBFS)
}

@Test func audioLineWithoutAFormatHasOnlyTimestampsAndSize() throws {
    let line = TextForm.line(for: .audio(AudioChunk(timestamp: 3_000_000, pcm: [1, 2, 3])), format: nil)
    #expect(line == "{\"type\":\"audio-chunk\",\"data\":{\"bytes\":3,\"timestamp\":3,\"timestamp_ns\":3000000}}")
}

@Test(arguments: [
    AudioChunk(timestamp: 0, pcm: []),
    AudioChunk(timestamp: 1_999_999, pcm: [7]),
    AudioChunk(timestamp: 20_000_000, pcm: [0xff, 0xfe, 0xfd]),
    AudioChunk(timestamp: UInt64(Int64.max), pcm: CodecFixtures.pcm16([-32768, 32767, 0, -1])),
    AudioChunk(timestamp: 42, pcm: (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37) }),
])
func audioLineWithPCMRoundTripsThroughTheDecoder(_ chunk: AudioChunk) throws {
    let line = TextForm.line(for: .audio(chunk), format: .pipeline, includePCM: true)
    #expect(try CodecFixtures.decodeAll(bytes(line + "\n")) == [.audio(chunk)])
    #expect(try CodecFixtures.decodeAll(bytes(line)) == [.audio(chunk)])
}

@Test func mixedStreamRoundTripsThroughTheTextForm() throws {
    var format: AudioFormat?
    var lines: [String] = []
    for frame in CodecFixtures.mixedFrames {
        if let event = frame.event, event.type == EventType.audioStart { format = try event.audioFormat().get() }
        lines.append(TextForm.line(for: frame, format: format, includePCM: true))
    }
    for line in lines {
        #expect(!line.contains("\n") && !line.contains("\r"), "\(line)")
    }
    let text = bytes(lines.joined(separator: "\n") + "\n")
    for index in stride(from: 0, through: text.count, by: 7) {
        let decoded = try CodecFixtures.decode(CodecFixtures.split(text, at: index))
        #expect(decoded.frames == CodecFixtures.mixedFrames, "split at \(index)")
        #expect(decoded.last == nil)
    }
}

@Test
func audioTimestampBeyondInt64IsRejectedByTheDecoder() {
    // vx-play --text writes TextForm.line for every frame it reads: this input crashes it.
    let input = CodecFixtures.audioFrame(payload: [0x80, 0, 0, 0, 0, 0, 0, 0])
    #expect(throws: FrameError.self) { try CodecFixtures.decodeAll(input) }
}

// MARK: - Peak level

@Test func peakLevelIsMeasuredInDecibelsFullScale() {
    #expect(PCM.peakDBFS(CodecFixtures.pcm16([0, 0, 0]), width: 2) == -120)
    #expect(PCM.peakDBFS(CodecFixtures.pcm16([0, -32768]), width: 2) == 0)
    #expect(abs(PCM.peakDBFS(CodecFixtures.pcm16([1, 16_384, -2]), width: 2) - (-6.0206)) < 0.0001)
    #expect(abs(PCM.peakDBFS(CodecFixtures.pcm16([1]), width: 2) - (-90.309)) < 0.001)
    #expect(PCM.peakDBFS(pcm32([0, .min]), width: 4) == 0)
    #expect(abs(PCM.peakDBFS(pcm32([1 << 30]), width: 4) - (-6.0206)) < 0.0001)
}

@Test func peakLevelIgnoresATrailingPartialSampleAndUnknownWidths() {
    #expect(PCM.peakDBFS([0, 0, 0xff], width: 2) == -120)
    #expect(PCM.peakDBFS([0, 0, 0, 0, 0xff, 0xff, 0xff], width: 4) == -120)
    #expect(PCM.peakDBFS([0xff, 0xff, 0x7f], width: 3) == -120)
}
