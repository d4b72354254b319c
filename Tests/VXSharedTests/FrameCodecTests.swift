import Testing
import VXShared

// MARK: - Fixtures shared by the codec, text-form and reader tests

/// A small deterministic generator (SplitMix64), so every "random" test replays exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum CodecFixtures {
    /// Interleaved little-endian 16-bit PCM.
    static func pcm16(_ samples: [Int16]) -> [UInt8] {
        samples.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// A frame header, written by hand rather than by the encoder under test.
    static func header(kind: UInt8, length: UInt32, magic: [UInt8] = [0x56, 0x58], version: UInt8 = 1) -> [UInt8] {
        magic + [version, kind] + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: length >> $0) }
    }

    /// A hand-written event frame around `payload`.
    static func eventFrame(_ payload: [UInt8]) -> [UInt8] {
        header(kind: 0x45, length: UInt32(payload.count)) + payload
    }

    /// A hand-written audio frame with a raw payload (timestamp included, or not).
    static func audioFrame(payload: [UInt8]) -> [UInt8] {
        header(kind: 0x41, length: UInt32(payload.count)) + payload
    }

    /// Audio stretch, events with unicode, escapes and nested data, an empty audio frame, audio-stop.
    static let mixedFrames: [Frame] = [
        .event(.audioStart(.pipeline, timestamp: 0)),
        .audio(AudioChunk(timestamp: 0, pcm: pcm16([0, 1000, -1000, 32767]))),
        .audio(AudioChunk(timestamp: 250_000, pcm: [])),
        .event(Event(EventType.transcript, [
            "text": "héllo wörld 🎙️ 日本語 — \"quoted\" back\\slash\nnew line\ttab\r\u{01}\u{1f}\u{7f}\u{2028}",
        ])),
        .audio(AudioChunk(timestamp: 250_000, pcm: pcm16((0..<160).map { Int16($0 * 200 - 16_000) }))),
        .event(Event(EventType.info, [
            "nested": ["list": [1, -2, 2.5, true, false, nil, "s"], "deep": ["deeper": ["deepest": [:]]]],
            "big": .int(.max), "small": .int(.min), "empty": [],
        ])),
        .event(Event(EventType.ping)),
        .audio(AudioChunk(timestamp: 10_010_000_000, pcm: pcm16([-32768, 32767, 0, -1]))),
        .event(.audioStop(timestamp: 10_010_250_000)),
    ]

    static func encode(_ frames: [Frame]) -> [UInt8] {
        var out: [UInt8] = []
        for frame in frames { FrameEncoder.encode(frame, into: &out) }
        return out
    }

    /// What a decoder made of some input: frames from `next()`, the offset at the end,
    /// and what `finish()` returned.
    struct Decoded {
        var frames: [Frame]
        var offset: Int
        var last: Frame?
    }

    /// Feeds `pieces` one after another, draining `next()` after each, then calls `finish()`.
    static func decode(_ pieces: some Sequence<[UInt8]>, maxPayload: Int = Frame.defaultMaxPayload)
        throws(FrameError) -> Decoded
    {
        var decoder = FrameDecoder(maxPayload: maxPayload)
        var frames: [Frame] = []
        for piece in pieces {
            decoder.append(contentsOf: piece)
            while let frame = try decoder.next() { frames.append(frame) }
        }
        let last = try decoder.finish()
        return Decoded(frames: frames, offset: decoder.offset, last: last)
    }

    /// Decodes the whole input in one piece; frames from `next()` and `finish()` together.
    static func decodeAll(_ bytes: [UInt8], maxPayload: Int = Frame.defaultMaxPayload) throws(FrameError) -> [Frame] {
        let decoded = try decode([bytes], maxPayload: maxPayload)
        return decoded.frames + (decoded.last.map { [$0] } ?? [])
    }

    static func split(_ bytes: [UInt8], at index: Int) -> [[UInt8]] {
        [Array(bytes[..<index]), Array(bytes[index...])]
    }

    static func oneByteAtATime(_ bytes: [UInt8]) -> [[UInt8]] {
        bytes.map { [$0] }
    }

    static func randomPieces(_ bytes: [UInt8], using generator: inout SplitMix64, maxPiece: Int = 32) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            let n = min(bytes.count - i, Int.random(in: 0...maxPiece, using: &generator))
            pieces.append(Array(bytes[i..<i + n]))
            i += n
        }
        return pieces
    }

    /// The byte offset every `FrameError` case names.
    static func offset(of error: FrameError) -> Int {
        switch error {
        case .notAFrameStream: 0
        case .unsupportedVersion(_, let offset), .badMagic(let offset, _), .unknownKind(_, let offset),
            .frameTooLarge(let offset, _, _), .truncatedFrame(let offset, _, _), .badEvent(let offset, _),
            .badAudio(let offset, _), .badTextLine(_, let offset, _):
            offset
        }
    }
}

// MARK: - Encoder

@Test func encoderWritesTheDocumentedEventFrameBytes() {
    // docs/PROTOCOL.md, section 1, "Examples".
    let expected: [UInt8] = [
        0x56, 0x58, 0x01, 0x45, 0x00, 0x00, 0x00, 0x24, 0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a,
        0x22, 0x70, 0x69, 0x6e, 0x67, 0x22, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x22, 0x3a, 0x7b, 0x22,
        0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0x68, 0x69, 0x22, 0x7d, 0x7d,
    ]
    #expect(FrameEncoder.encode(.event(Event(EventType.ping, ["text": "hi"]))) == expected)
}

@Test func encoderWritesTheDocumentedAudioFrameBytes() {
    let expected: [UInt8] = [
        0x56, 0x58, 0x01, 0x41, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01, 0x31, 0x2d, 0x00,
        0x00, 0x00, 0xe8, 0x03, 0x18, 0xfc, 0xff, 0x7f,
    ]
    let chunk = AudioChunk(timestamp: 20_000_000, pcm: CodecFixtures.pcm16([0, 1000, -1000, 32767]))
    #expect(FrameEncoder.encode(.audio(chunk)) == expected)
}

@Test func encoderAppendsToWhatIsAlreadyInTheBuffer() {
    var out: [UInt8] = [0xAA, 0xBB]
    FrameEncoder.encode(.audio(AudioChunk(timestamp: 1, pcm: [9])), into: &out)
    #expect(out == [0xAA, 0xBB, 0x56, 0x58, 0x01, 0x41, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 9])
}

@Test func audioTimestampIsReadBigEndian() throws {
    let input = CodecFixtures.audioFrame(payload: [1, 2, 3, 4, 5, 6, 7, 8, 0xEE])
    let frames = try CodecFixtures.decodeAll(input)
    #expect(frames == [.audio(AudioChunk(timestamp: 0x0102_0304_0506_0708, pcm: [0xEE]))])
}

@Test(arguments: [0, 1, 0x1_0000_0000, 0x0102_0304_0506_0708, UInt64(Int64.max)])
func audioTimestampSurvivesTheWireAtEveryMagnitude(_ timestamp: UInt64) throws {
    let frame = Frame.audio(AudioChunk(timestamp: timestamp, pcm: [1, 2]))
    #expect(try CodecFixtures.decodeAll(FrameEncoder.encode(frame)) == [frame])
}

// MARK: - Round trips

@Test func mixedStreamRoundTripsWhenSplitAtEveryBytePosition() throws {
    let frames = CodecFixtures.mixedFrames
    let bytes = CodecFixtures.encode(frames)
    for index in 0...bytes.count {
        let decoded = try CodecFixtures.decode(CodecFixtures.split(bytes, at: index))
        #expect(decoded.frames == frames, "split at \(index)")
        #expect(decoded.offset == bytes.count, "split at \(index)")
        #expect(decoded.last == nil, "split at \(index)")
    }
}

@Test func mixedStreamRoundTripsWhenFedOneByteAtATime() throws {
    let frames = CodecFixtures.mixedFrames
    let bytes = CodecFixtures.encode(frames)
    let decoded = try CodecFixtures.decode(CodecFixtures.oneByteAtATime(bytes))
    #expect(decoded.frames == frames)
    #expect(decoded.offset == bytes.count)
    #expect(decoded.last == nil)
}

@Test(arguments: 0..<20)
func mixedStreamRoundTripsInRandomPieces(seed: Int) throws {
    var generator = SplitMix64(seed: UInt64(seed))
    let frames = CodecFixtures.mixedFrames
    let bytes = CodecFixtures.encode(frames + frames)
    let decoded = try CodecFixtures.decode(CodecFixtures.randomPieces(bytes, using: &generator))
    #expect(decoded.frames == frames + frames)
    #expect(decoded.offset == bytes.count)
    #expect(decoded.last == nil)
}

@Test func decoderReportsNilUntilAFrameIsCompleteAndOffsetOnlyAtFrameBoundaries() throws {
    let frames = CodecFixtures.mixedFrames
    var boundaries = [0]
    var bytes: [UInt8] = []
    for frame in frames {
        FrameEncoder.encode(frame, into: &bytes)
        boundaries.append(bytes.count)
    }
    var decoder = FrameDecoder()
    var produced = 0
    for (i, byte) in bytes.enumerated() {
        decoder.append(contentsOf: [byte])
        while let frame = try decoder.next() {
            #expect(frame == frames[produced])
            produced += 1
            #expect(i + 1 == boundaries[produced], "frame \(produced) came out before its last byte")
        }
        #expect(decoder.offset == boundaries[produced])
        #expect(decoder.bufferedByteCount == i + 1 - boundaries[produced])
    }
    #expect(produced == frames.count)
}

@Test func concatenatedStreamsAreOneValidStream() throws {
    // `cat a.vx b.vx` is a valid stream.
    let a = CodecFixtures.encode(Array(CodecFixtures.mixedFrames.prefix(3)))
    let b = CodecFixtures.encode(Array(CodecFixtures.mixedFrames.dropFirst(3)))
    #expect(try CodecFixtures.decodeAll(a + b) == CodecFixtures.mixedFrames)
}

@Test func emptyInputIsAnEmptyStream() throws {
    let decoded = try CodecFixtures.decode([[UInt8]]())
    #expect(decoded.frames.isEmpty)
    #expect(decoded.last == nil)
    #expect(decoded.offset == 0)
}

@Test func largestAllowedPayloadIsAccepted() throws {
    let frame = Frame.audio(AudioChunk(timestamp: 7, pcm: [UInt8](repeating: 0x5A, count: 1016)))
    #expect(try CodecFixtures.decodeAll(FrameEncoder.encode(frame), maxPayload: 1024) == [frame])
}

// MARK: - Forwarding: decoded events keep their bytes

/// Valid JSON our serializer would write differently: spaces, newlines, `data` before `type`,
/// an extra member, `\u` escapes, a surrogate pair, `2.50`.
private let handWrittenEventPayload = CodecFixtures.bytes(
    "{ \"data\" : {\"z\": [1, 2.50, {\"k\": null}],\n \"a\": \"caf\\u00e9 \\ud83c\\udf99\"} ,\"type\":\"transcript\", \"extra\": true }"
)

@Test func decodedEventKeepsItsPayloadBytes() throws {
    let frames = try CodecFixtures.decodeAll(CodecFixtures.eventFrame(handWrittenEventPayload))
    let event = try #require(frames.first?.event)
    #expect(frames.count == 1)
    #expect(event.raw == handWrittenEventPayload)
    #expect(event == Event(EventType.transcript, ["a": "café 🎙", "z": [1, 2.5, ["k": nil]]]))
}

@Test func forwardedEventIsReencodedByteForByte() throws {
    let original = CodecFixtures.eventFrame(handWrittenEventPayload)
    let frames = try CodecFixtures.decodeAll(original)
    let event = try #require(frames.first?.event)
    // The test means something only if our serializer would have written other bytes.
    #expect(Array(event.jsonText.utf8) != handWrittenEventPayload)
    #expect(FrameEncoder.encode(frames[0]) == original)
}

@Test func forwardedStreamIsReencodedByteForByteWhenSplitAnywhere() throws {
    let original = CodecFixtures.encode([.event(.audioStart(.pipeline, timestamp: 5))])
        + CodecFixtures.eventFrame(handWrittenEventPayload)
        + CodecFixtures.eventFrame(CodecFixtures.bytes("{\"type\":\"ping\",\"data\":null}"))
        + CodecFixtures.eventFrame(CodecFixtures.bytes("{\"type\":\"pong\"}"))
        + CodecFixtures.eventFrame(CodecFixtures.bytes("\t{\"data\":{},\"type\":\"x\"}\n"))
    for index in 0...original.count {
        let decoded = try CodecFixtures.decode(CodecFixtures.split(original, at: index))
        #expect(CodecFixtures.encode(decoded.frames) == original, "split at \(index)")
    }
}

@Test func eventBuiltInCodeIsEncodedFromItsJSONText() {
    let event = Event(EventType.error, ["text": "boom", "code": "E1"])
    #expect(event.raw == nil)
    #expect(event.payload == CodecFixtures.bytes("{\"type\":\"error\",\"data\":{\"code\":\"E1\",\"text\":\"boom\"}}"))
}

@Test
func editedDecodedEventIsReencodedWithItsChanges() throws {
    let original = CodecFixtures.eventFrame(CodecFixtures.bytes("{\"type\":\"transcript\",\"data\":{\"text\":\"hello\"}}"))
    var event = try #require(try CodecFixtures.decodeAll(original).first?.event)
    event.data["text"] = "goodbye"
    event.type = EventType.reply
    let reread = try CodecFixtures.decodeAll(FrameEncoder.encode(.event(event)))
    #expect(reread == [.event(Event(EventType.reply, ["text": "goodbye"]))])
}

// MARK: - Not a frame stream

/// The first bytes of a 1-second 16 kHz mono 16-bit WAV file, built by hand.
private func wavFile() -> [UInt8] {
    func le32(_ v: UInt32) -> [UInt8] { [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: v >> $0) } }
    func le16(_ v: UInt16) -> [UInt8] { [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)] }
    let dataSize: UInt32 = 32_000
    var wav = CodecFixtures.bytes("RIFF") + le32(36 + dataSize) + CodecFixtures.bytes("WAVE")
    wav += CodecFixtures.bytes("fmt ") + le32(16) + le16(1) + le16(1) + le32(16_000) + le32(32_000) + le16(2) + le16(16)
    wav += CodecFixtures.bytes("data") + le32(dataSize) + [UInt8](repeating: 0, count: Int(dataSize))
    return wav
}

@Test func wavFileIsNotAFrameStream() throws {
    let error = #expect(throws: FrameError.self) { try CodecFixtures.decodeAll(wavFile()) }
    #expect(error == .notAFrameStream(firstBytes: [0x52, 0x49, 0x46, 0x46, 0x24, 0x7d, 0x00, 0x00]))
    // The message from docs/PROTOCOL.md, section 2.
    #expect(
        error?.description
            == "input is not a vx frame stream (did you mean vx-capture?): it starts with 52 49 46 46 24 7d 00 00"
    )
}

@Test func plainTextIsNotAFrameStream() throws {
    let error = #expect(throws: FrameError.self) { try CodecFixtures.decodeAll(CodecFixtures.bytes("hi\n")) }
    #expect(error == .notAFrameStream(firstBytes: CodecFixtures.bytes("hi\n")))
    let description = try #require(error?.description)
    #expect(description.contains("input is not a vx frame stream (did you mean vx-capture?)"))
    #expect(description.hasSuffix("it starts with \"hi\\n\""))
}

@Test(arguments: ["hi\n", "Very well\n", "OggS", "\u{FEFF}{\"type\":\"ping\"}\n", " {\"type\":\"ping\"}\n", "\n"])
func inputNotStartingWithVOrBraceOrHashIsRejectedOnItsFirstBytes(_ text: String) {
    // Even one byte at a time, the decoder gives up as soon as it has seen enough.
    var decoder = FrameDecoder()
    var caught: FrameError?
    for byte in text.utf8 where caught == nil {
        decoder.append(contentsOf: [byte])
        do { _ = try decoder.next() } catch { caught = error }
    }
    guard case .notAFrameStream(let firstBytes)? = caught else {
        Issue.record("expected notAFrameStream, got \(String(describing: caught))")
        return
    }
    #expect(!firstBytes.isEmpty && CodecFixtures.bytes(text).starts(with: firstBytes))
    #expect(caught?.description.contains("input is not a vx frame stream (did you mean vx-capture?)") == true)
}

@Test func loneVAtEndOfInputIsATruncatedHeader() {
    #expect(throws: FrameError.truncatedFrame(offset: 0, expected: 8, got: 1)) {
        try CodecFixtures.decodeAll(CodecFixtures.bytes("V"))
    }
    #expect(throws: FrameError.truncatedFrame(offset: 0, expected: 8, got: 2)) {
        try CodecFixtures.decodeAll(CodecFixtures.bytes("VX"))
    }
}

@Test func twoBytesStartingWithVButNotVXAreNotAFrameStream() {
    #expect(throws: FrameError.notAFrameStream(firstBytes: CodecFixtures.bytes("Vq"))) {
        try CodecFixtures.decodeAll(CodecFixtures.bytes("Vq"))
    }
}

// MARK: - Truncation

@Test(arguments: [false, true])
func decodeReportsOffsetOfTruncatedFrame(lastIsEvent: Bool) throws {
    var frames = CodecFixtures.mixedFrames
    if !lastIsEvent { frames.append(.audio(AudioChunk(timestamp: 99, pcm: CodecFixtures.pcm16([1, 2, 3])))) }
    let complete = CodecFixtures.encode(Array(frames.dropLast()))
    let bytes = CodecFixtures.encode(frames)
    let lastStart = complete.count
    let lastLength = bytes.count - lastStart
    for cut in lastStart + 1..<bytes.count {
        let got = cut - lastStart
        let expected = got < Frame.headerSize ? Frame.headerSize : lastLength
        var decoder = FrameDecoder()
        decoder.append(contentsOf: bytes[..<cut])
        var decoded: [Frame] = []
        while let frame = try decoder.next() { decoded.append(frame) }
        #expect(decoded == Array(frames.dropLast()), "cut at \(cut)")
        #expect(decoder.offset == lastStart)
        #expect(throws: FrameError.truncatedFrame(offset: lastStart, expected: expected, got: got), "cut at \(cut)") {
            try decoder.finish()
        }
    }
}

@Test func streamCutAtAFrameBoundaryEndsCleanly() throws {
    let frames = CodecFixtures.mixedFrames
    for count in 0...frames.count {
        let prefix = Array(frames.prefix(count))
        let bytes = CodecFixtures.encode(prefix)
        let decoded = try CodecFixtures.decode([bytes])
        #expect(decoded.frames == prefix)
        #expect(decoded.last == nil)
    }
}

@Test func truncatedFrameDescriptionNamesOffsetAndSizes() {
    // The message from docs/PROTOCOL.md, section 2.
    #expect(
        FrameError.truncatedFrame(offset: 640, expected: 648, got: 100).description
            == "stream ends inside the frame at byte offset 640: expected 648 bytes, got 100"
    )
}

// MARK: - Corrupt headers and payloads

/// One valid frame, so errors are checked at a non-zero offset.
private let leadingFrame = FrameEncoder.encode(.event(Event(EventType.ping, ["text": "hi"])))

@Test func oversizedFrameIsRejectedAsSoonAsItsHeaderIsComplete() throws {
    var decoder = FrameDecoder(maxPayload: 1024)
    let oversized = CodecFixtures.header(kind: 0x41, length: 1025)
    decoder.append(contentsOf: leadingFrame + oversized.prefix(7))
    #expect(try decoder.next() != nil)
    #expect(try decoder.next() == nil)
    decoder.append(contentsOf: oversized.suffix(1))  // the header is complete; no payload byte has arrived
    #expect(throws: FrameError.frameTooLarge(offset: leadingFrame.count, length: 1025, limit: 1024)) {
        try decoder.next()
    }
}

@Test func defaultLimitRefusesAHeaderAnnouncingFourGigabytes() {
    #expect(throws: FrameError.frameTooLarge(offset: 0, length: Int(UInt32.max), limit: 1 << 20)) {
        try CodecFixtures.decodeAll(CodecFixtures.header(kind: 0x45, length: .max))
    }
}

@Test func frameTooLargeDescriptionMatchesTheProtocolDocument() {
    #expect(
        FrameError.frameTooLarge(offset: 4096, length: 3_000_000, limit: 1_048_576).description
            == "frame at byte offset 4096 is 3000000 bytes, over the 1048576-byte limit (raise it with --max-frame)"
    )
}

@Test func badMagicMidStreamReportsOffsetAndFoundBytes() {
    let input = leadingFrame + CodecFixtures.header(kind: 0x45, length: 0, magic: [0x58, 0x59])
    let error = #expect(throws: FrameError.self) { try CodecFixtures.decodeAll(input) }
    #expect(error == .badMagic(offset: leadingFrame.count, found: [0x58, 0x59, 0x01, 0x45]))
    #expect(error?.description.contains("byte offset \(leadingFrame.count)") == true)
}

@Test func lengthOneByteShortMisalignsTheNextHeaderAndFailsThere() {
    // The audio frame's last sample byte is left over where the next header must start.
    var input = CodecFixtures.audioFrame(payload: [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]) + leadingFrame
    input[7] -= 1
    let error = #expect(throws: FrameError.self) { try CodecFixtures.decodeAll(input) }
    #expect(error == .badMagic(offset: 19, found: [0x04, 0x56, 0x58, 0x01]))
}

@Test(arguments: [UInt8(0x00), 0x42, 0x61, 0x65, 0xFF])
func unknownKindReportsOffsetOfItsKindByte(kind: UInt8) {
    let input = leadingFrame + CodecFixtures.header(kind: kind, length: 0)
    #expect(throws: FrameError.unknownKind(kind, offset: leadingFrame.count + 3)) {
        try CodecFixtures.decodeAll(input)
    }
}

@Test func unsupportedVersionAtTheStartIsReportedAsSoonAsTheVersionByteArrives() {
    var decoder = FrameDecoder()
    decoder.append(contentsOf: [0x56, 0x58])
    #expect(throws: Never.self) { try decoder.next() }
    decoder.append(contentsOf: [0x02])
    #expect(throws: FrameError.unsupportedVersion(2, offset: 2)) { try decoder.next() }
}

@Test func unsupportedVersionMidStreamReportsOffsetOfItsVersionByte() {
    let input = leadingFrame + CodecFixtures.header(kind: 0x45, length: 0, version: 0)
    let error = #expect(throws: FrameError.self) { try CodecFixtures.decodeAll(input) }
    #expect(error == .unsupportedVersion(0, offset: leadingFrame.count + 2))
    #expect(error?.description.contains("this build reads version 1") == true)
}

@Test(arguments: [
    ("[1,2]", "not a JSON object"),
    ("42", "not a JSON object"),
    ("\"transcript\"", "not a JSON object"),
    ("null", "not a JSON object"),
    ("{}", "no \"type\" string"),
    ("{\"data\":{}}", "no \"type\" string"),
    ("{\"type\":\"\"}", "no \"type\" string"),
    ("{\"type\":7}", "no \"type\" string"),
    ("{\"type\":null,\"data\":{}}", "no \"type\" string"),
    ("{\"type\":\"x\",\"data\":[1]}", "\"data\" of x is not an object"),
    ("{\"type\":\"x\",\"data\":\"text\"}", "\"data\" of x is not an object"),
    ("{\"type\":\"x\",\"data\":0}", "\"data\" of x is not an object"),
])
func eventThatIsNotAnObjectWithTypeIsBadEvent(payload: String, reason: String) {
    let input = leadingFrame + CodecFixtures.eventFrame(CodecFixtures.bytes(payload))
    #expect(throws: FrameError.badEvent(offset: leadingFrame.count, reason: reason)) {
        try CodecFixtures.decodeAll(input)
    }
}

@Test(arguments: [
    CodecFixtures.bytes(""),
    CodecFixtures.bytes("not json"),
    CodecFixtures.bytes("{\"type\":\"ping\""),
    CodecFixtures.bytes("{\"type\":\"ping\"}}"),
    CodecFixtures.bytes("{\"type\":'ping'}"),
    [0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d],  // invalid UTF-8 in a string
])
func eventPayloadThatIsNotJSONIsBadEventAtItsFrameOffset(payload: [UInt8]) {
    let input = leadingFrame + CodecFixtures.eventFrame(payload)
    let error = #expect(throws: FrameError.self) { try CodecFixtures.decodeAll(input) }
    guard case .badEvent(let offset, let reason)? = error else {
        Issue.record("expected badEvent, got \(String(describing: error))")
        return
    }
    #expect(offset == leadingFrame.count)
    #expect(reason.hasPrefix("not valid JSON"))
    #expect(!reason.contains("\n"))
}

@Test func eventWithMissingOrNullDataHasEmptyData() throws {
    let input = CodecFixtures.eventFrame(CodecFixtures.bytes("{\"type\":\"ping\"}"))
        + CodecFixtures.eventFrame(CodecFixtures.bytes("{\"type\":\"pong\",\"data\":null}"))
    #expect(try CodecFixtures.decodeAll(input) == [.event(Event(EventType.ping)), .event(Event(EventType.pong))])
}

@Test(arguments: 0..<8)
func audioPayloadShorterThanTheTimestampIsBadAudio(length: Int) {
    let input = leadingFrame + CodecFixtures.audioFrame(payload: [UInt8](repeating: 1, count: length))
    #expect(
        throws: FrameError.badAudio(
            offset: leadingFrame.count, reason: "payload of \(length) bytes has no room for the 8-byte timestamp")
    ) {
        try CodecFixtures.decodeAll(input)
    }
}

@Test func audioPayloadOfExactlyTheTimestampIsAnEmptyChunk() throws {
    let input = CodecFixtures.audioFrame(payload: [0, 0, 0, 0, 0, 0, 0, 42])
    #expect(try CodecFixtures.decodeAll(input) == [.audio(AudioChunk(timestamp: 42, pcm: []))])
}

@Test func everyErrorDescriptionIsOneLineNamingItsOffset() {
    let errors: [FrameError] = [
        .unsupportedVersion(9, offset: 4242), .badMagic(offset: 4242, found: [0, 1, 2, 3]),
        .unknownKind(0x5a, offset: 4242), .frameTooLarge(offset: 4242, length: 5, limit: 4),
        .truncatedFrame(offset: 4242, expected: 8, got: 3), .badEvent(offset: 4242, reason: "r"),
        .badAudio(offset: 4242, reason: "r"), .badTextLine(line: 3, offset: 4242, reason: "r"),
    ]
    for error in errors {
        #expect(error.description.contains("byte offset 4242"), "\(error)")
        #expect(!error.description.contains("\n"), "\(error)")
    }
    #expect(FrameError.unknownKind(0x0a, offset: 1).description.contains("0x0a"))
    #expect(FrameError.badTextLine(line: 3, offset: 4242, reason: "r").description.contains("line 3"))
}

// MARK: - Garbage never crashes or hangs

/// Decodes `bytes` fed in random pieces. Returns the frames and the error, if any,
/// and checks the invariants that hold for any input.
private func decodeGarbage(_ bytes: [UInt8], using generator: inout SplitMix64, maxPayload: Int)
    -> (frames: [Frame], offset: Int, error: FrameError?)
{
    var decoder = FrameDecoder(maxPayload: maxPayload)
    var frames: [Frame] = []
    do {
        for piece in CodecFixtures.randomPieces(bytes, using: &generator, maxPiece: 64) {
            decoder.append(contentsOf: piece)
            while true {
                let before = decoder.offset
                guard let frame = try decoder.next() else { break }
                frames.append(frame)
                // Every frame consumes bytes, so the loop ends.
                #expect(decoder.offset > before)
            }
        }
        if let last = try decoder.finish() { frames.append(last) }
    } catch {
        #expect((0...bytes.count).contains(CodecFixtures.offset(of: error)), "\(error)")
        #expect(!error.description.isEmpty)
        return (frames, decoder.offset, error)
    }
    #expect(decoder.offset == bytes.count)
    return (frames, decoder.offset, nil)
}

/// A hang fails the test instead of stalling the run.
@Test(.timeLimit(.minutes(1))) func randomBytesThrowOrDecodeButNeverCrash() {
    for seed in 0..<400 {
        var generator = SplitMix64(seed: UInt64(seed))
        let length = Int.random(in: 0...400, using: &generator)
        var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // Steer a share of the inputs past the first-byte check into each form.
        switch seed % 4 {
        case 1: bytes = [0x56, 0x58, 0x01] + bytes
        case 2: bytes = [UInt8(ascii: "{")] + bytes
        case 3: bytes = [UInt8(ascii: "#")] + bytes
        default: break
        }
        _ = decodeGarbage(bytes, using: &generator, maxPayload: 256)
    }
}

/// A hang fails the test instead of stalling the run.
@Test(.timeLimit(.minutes(1))) func corruptedValidStreamsThrowOrDecodeAPrefixThatReencodesExactly() {
    let valid = CodecFixtures.encode(CodecFixtures.mixedFrames)
    var failures = 0
    for seed in 0..<400 {
        var generator = SplitMix64(seed: UInt64(seed))
        var bytes = valid
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
        }
        if Bool.random(using: &generator) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &generator)) }
        let result = decodeGarbage(bytes, using: &generator, maxPayload: 4096)
        if result.error != nil { failures += 1 }
        // Whatever decoded is exactly the bytes it came from (events keep their raw bytes).
        if bytes.first == 0x56 {
            #expect(CodecFixtures.encode(result.frames) == Array(bytes.prefix(result.offset)), "seed \(seed)")
        }
    }
    // The corruption is real: most damaged streams must be caught.
    #expect(failures > 200)
}

/// A hang fails the test instead of stalling the run.
@Test(.timeLimit(.minutes(1))) func deeplyNestedEventPayloadIsRejectedWithoutCrashing() {
    let depth = 100_000
    let payload = [UInt8](repeating: UInt8(ascii: "["), count: depth) + [UInt8](repeating: UInt8(ascii: "]"), count: depth)
    let input = leadingFrame + CodecFixtures.eventFrame(payload)
    let error = #expect(throws: FrameError.self) { try CodecFixtures.decodeAll(input) }
    guard case .badEvent(let offset, _)? = error else {
        Issue.record("expected badEvent, got \(String(describing: error))")
        return
    }
    #expect(offset == leadingFrame.count)
}

// MARK: - JSONValue

@Test(arguments: [
    JSONValue.null, true, false, 0, -1, .int(.max), .int(.min), 1.5, -0.25, 1e-7, 6.02214076e23, 1.2345678901234567e19,
    "", "plain", "unicode é 日本語 🎙️ \u{2028}", "quote \" backslash \\ slash /", "controls \u{0}\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}",
    [], [1, "two", [3.5, nil], ["four": false]],
    ["": 0, "a": ["b": ["c": [nil, true]]], "z": "last", "é": 1],
])
func jsonValueSurvivesSerialiseAndParse(_ value: JSONValue) throws {
    let text = value.jsonText
    #expect(try JSONValue.parse(Array(text.utf8)) == value, "\(text)")
}

@Test func jsonTextIsCompactWithSortedKeys() {
    let value: JSONValue = ["b": 1, "a": [true, nil, "x"], "c": ["z": [:], "y": []]]
    #expect(value.jsonText == "{\"a\":[true,null,\"x\"],\"b\":1,\"c\":{\"y\":[],\"z\":{}}}")
}

@Test(arguments: 0..<0x20)
func controlCharactersAreEscaped(_ code: Int) throws {
    let scalar = try #require(Unicode.Scalar(code))
    let text = JSONValue.string("a\(Character(scalar))b").jsonText
    let expected: String =
        switch code {
        case 0x0a: "\\n"
        case 0x0d: "\\r"
        case 0x09: "\\t"
        default: "\\u00" + (code < 0x10 ? "0" : "") + String(code, radix: 16)
        }
    #expect(text == "\"a\(expected)b\"")
    #expect(text.unicodeScalars.allSatisfy { $0.value >= 0x20 })
    #expect(try JSONValue.parse(Array(text.utf8)) == .string("a\(Character(scalar))b"))
}

@Test func quotesAndBackslashesAreEscapedAndOtherCharactersWrittenAsThemselves() {
    #expect(JSONValue.string("\"\\/é🎙\u{7f}\u{2028}").jsonText == "\"\\\"\\\\/é🎙\u{7f}\u{2028}\"")
}

@Test(arguments: [
    ("0", JSONValue.int(0)), ("-0", .int(0)), ("1", .int(1)), ("-17", .int(-17)),
    ("1.5", .double(1.5)), ("-0.25", .double(-0.25)), ("1e-3", .double(0.001)),
    ("true", .bool(true)), ("false", .bool(false)), ("null", .null), ("\"1\"", .string("1")),
    ("9223372036854775807", .int(.max)), ("-9223372036854775808", .int(.min)),
    ("9007199254740993", .int(9_007_199_254_740_993)),  // 2^53 + 1: not representable as a Double
    ("9223372036854775808", .double(9.223372036854775808e18)),  // Int64.max + 1
])
func numbersParseAsIntsWhenWholeAndInRange(text: String, expected: JSONValue) throws {
    #expect(try JSONValue.parse(Array(text.utf8)) == expected)
    #expect(try JSONValue.parse(Array("[\(text)]".utf8)) == .array([expected]))
}

@Test func booleansAndNumbersAreNotConfused() throws {
    let value = try JSONValue.parse(Array("{\"one\":1,\"zero\":0,\"yes\":true,\"no\":false}".utf8))
    #expect(value == ["one": 1, "zero": 0, "yes": true, "no": false])
    #expect(value["one"]?.bool == nil)
    #expect(value["yes"]?.int == nil)
}

@Test func wholeDoublesReadAsIntsButFractionsAndHugeValuesDoNot() {
    #expect(JSONValue.double(2).int == 2)
    #expect(JSONValue.double(-3).int == -3)
    #expect(JSONValue.double(2.5).int == nil)
    #expect(JSONValue.double(1e16).int == nil)
    #expect(JSONValue.double(.nan).int == nil)
    #expect(JSONValue.int(7).double == 7)
    #expect(JSONValue.string("7").int == nil)
    #expect(JSONValue.string("7").double == nil)
}

@Test func largeIntegersAreWrittenInFull() {
    #expect(JSONValue.int(.max).jsonText == "9223372036854775807")
    #expect(JSONValue.int(.min).jsonText == "-9223372036854775808")
    #expect(JSONValue.int(9_007_199_254_740_993).jsonText == "9007199254740993")
}

@Test func wholeDoublesAreWrittenWithoutAFractionAndNonFiniteAsNull() {
    #expect(JSONValue.double(3).jsonText == "3")
    #expect(JSONValue.double(-0.0).jsonText == "0")
    #expect(JSONValue.double(0.1).jsonText == "0.1")
    #expect(JSONValue.double(.nan).jsonText == "null")
    #expect(JSONValue.double(.infinity).jsonText == "null")
    #expect(JSONValue.double(-.infinity).jsonText == "null")
}

@Test(arguments: ["", "{", "[1,", "{\"a\" 1}", "tru", "01", "'x'", "{\"a\":1}x", "NaN"])
func invalidJSONThrowsAOneLineReason(_ text: String) {
    let error = #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(text.utf8)) }
    #expect(error?.reason.hasPrefix("not valid JSON") == true)
    #expect(error?.reason.contains("\n") == false)
}

// MARK: - Event

@Test func audioStartCarriesFormatAndBothTimestamps() throws {
    let event = Event.audioStart(AudioFormat(rate: 48_000, width: 4, channels: 2), timestamp: 1_234_567_890)
    #expect(event.type == "audio-start")
    #expect(event.data == ["rate": 48_000, "width": 4, "channels": 2, "timestamp": 1234, "timestamp_ns": 1_234_567_890])
    #expect(try event.audioFormat().get() == AudioFormat(rate: 48_000, width: 4, channels: 2))
    #expect(event.timestampNanoseconds == 1_234_567_890)
}

@Test func timestampPrefersNanosecondsAndFallsBackToMilliseconds() {
    #expect(Event("x", ["timestamp": 5, "timestamp_ns": 5_000_123]).timestampNanoseconds == 5_000_123)
    #expect(Event("x", ["timestamp": 5]).timestampNanoseconds == 5_000_000)
    #expect(Event("x", ["timestamp": 5, "timestamp_ns": -1]).timestampNanoseconds == 5_000_000)
    #expect(Event("x", ["timestamp": -5]).timestampNanoseconds == nil)
    #expect(Event("x", ["timestamp": "5"]).timestampNanoseconds == nil)
    #expect(Event("x").timestampNanoseconds == nil)
}

@Test
func fractionalMillisecondTimestampRoundsToTheNearestNanosecond() {
    #expect(Event("x", ["timestamp": 1.001]).timestampNanoseconds == 1_001_000)
    #expect(Event("x", ["timestamp": 0.3]).timestampNanoseconds == 300_000)
}

@Test
func millisecondTimestampTooLargeForNanosecondsIsNoTimestamp() {
    #expect(Event("x", ["timestamp": 1e20]).timestampNanoseconds == nil)
}

@Test(arguments: [
    (["rate": 16_000, "width": 3, "channels": 1] as [String: JSONValue], "audio-start: width 3 is not 2 or 4 bytes"),
    (["rate": 0, "width": 2, "channels": 1], "audio-start: rate 0 is not from 1 to 768000 Hz"),
    (["rate": 16_000, "width": 2, "channels": 0], "audio-start: channels 0 is not from 1 to 32"),
    (["width": 2, "channels": 1], "audio-start needs integer rate, width and channels"),
    (["rate": "16000", "width": 2, "channels": 1], "audio-start needs integer rate, width and channels"),
    (["rate": 16_000.5, "width": 2, "channels": 1], "audio-start needs integer rate, width and channels"),
])
func audioStartWithUnusableFormatSaysWhy(data: [String: JSONValue], reason: String) {
    switch Event(EventType.audioStart, data).audioFormat() {
    case .success(let format): Issue.record("accepted \(format)")
    case .failure(let problem): #expect(problem.reason == reason)
    }
}

@Test func audioStartWithWholeDoublesIsUsable() throws {
    let event = Event(EventType.audioStart, ["rate": 16_000.0, "width": 2.0, "channels": 1])
    #expect(try event.audioFormat().get() == .pipeline)
}
