/// An incremental frame decoder: feed it bytes as they arrive, take frames out.
///
/// "Not enough bytes yet" is `nil`, not an error. Memory stays bounded: the
/// decoder refuses a frame header announcing more than `maxPayload` bytes before
/// buffering it. At end of input call `finish()`: bytes left inside a frame are
/// a `truncatedFrame` error with the frame's offset.
///
/// The first byte decides the form of the whole stream: "V" starts the binary
/// form, "{" or "#" the JSON-lines text form (see `TextForm`); anything else is
/// `notAFrameStream`.
public struct FrameDecoder: Sendable {
    public enum Form: Sendable { case binary, text }

    public let maxPayload: Int
    public private(set) var form: Form?

    private var buffer: [UInt8] = []
    private var start = 0
    /// Stream offset of `buffer[start]`.
    private var base = 0
    /// Text form: how far the current line has been searched for a newline, and its number.
    private var scanned = 0
    private var lineNumber = 0

    public init(maxPayload: Int = Frame.defaultMaxPayload) {
        self.maxPayload = maxPayload
    }

    /// Bytes of the stream consumed so far (the offset of the next frame).
    public var offset: Int { base }
    /// Stream offset where the frame last returned began (its line, in the text form).
    public private(set) var lastFrameOffset = 0
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    private mutating func compact() {
        if start > 0 && (start == buffer.count || start >= 65_536) {
            buffer.removeFirst(start)
            scanned -= start
            start = 0
        }
    }

    private mutating func consume(_ n: Int) {
        start += n
        base += n
        scanned = start
    }

    /// The next complete frame, or nil when more bytes are needed.
    public mutating func next() throws(FrameError) -> Frame? {
        if form == nil {
            guard let detected = try detectForm() else { return nil }
            form = detected
        }
        switch form! {
        case .binary: return try nextBinary()
        case .text: return try nextText(atEnd: false)
        }
    }

    /// Call at end of input. Returns a last text line that had no newline;
    /// throws if the stream ends inside a binary frame.
    public mutating func finish() throws(FrameError) -> Frame? {
        let available = buffer.count - start
        guard available > 0 else { return nil }
        switch form {
        case nil:
            if buffer[start] == Frame.magic[0] && (available == 1 || buffer[start + 1] == Frame.magic[1]) {
                // "V" or "VX" and nothing more: the start of a header cut short
                throw .truncatedFrame(offset: base, expected: Frame.headerSize, got: available)
            }
            throw .notAFrameStream(firstBytes: Array(buffer[start...]))
        case .binary:
            if available < Frame.headerSize {
                throw .truncatedFrame(offset: base, expected: Frame.headerSize, got: available)
            }
            let length = Int(readUInt32(at: start + 4))
            throw .truncatedFrame(offset: base, expected: Frame.headerSize + length, got: available)
        case .text:
            return try nextText(atEnd: true)
        }
    }

    private func detectForm() throws(FrameError) -> Form? {
        guard start < buffer.count else { return nil }
        switch buffer[start] {
        case UInt8(ascii: "{"), UInt8(ascii: "#"): return .text
        case Frame.magic[0]:
            if buffer.count - start < 3 { return nil }
            guard buffer[start + 1] == Frame.magic[1] else {
                throw .notAFrameStream(firstBytes: Array(buffer[start..<min(buffer.count, start + 8)]))
            }
            guard buffer[start + 2] == Frame.version else {
                throw .unsupportedVersion(buffer[start + 2], offset: base + 2)
            }
            return .binary
        default:
            throw .notAFrameStream(firstBytes: Array(buffer[start..<min(buffer.count, start + 8)]))
        }
    }

    private func readUInt32(at i: Int) -> UInt32 {
        UInt32(buffer[i]) << 24 | UInt32(buffer[i + 1]) << 16 | UInt32(buffer[i + 2]) << 8 | UInt32(buffer[i + 3])
    }

    private mutating func nextBinary() throws(FrameError) -> Frame? {
        let available = buffer.count - start
        guard available >= Frame.headerSize else { return nil }
        guard buffer[start] == Frame.magic[0], buffer[start + 1] == Frame.magic[1] else {
            throw .badMagic(offset: base, found: Array(buffer[start..<start + 4]))
        }
        guard buffer[start + 2] == Frame.version else { throw .unsupportedVersion(buffer[start + 2], offset: base + 2) }
        guard let kind = Frame.Kind(rawValue: buffer[start + 3]) else {
            throw .unknownKind(buffer[start + 3], offset: base + 3)
        }
        let length = Int(readUInt32(at: start + 4))
        guard length <= maxPayload else { throw .frameTooLarge(offset: base, length: length, limit: maxPayload) }
        guard available >= Frame.headerSize + length else { return nil }

        let body = start + Frame.headerSize
        let frame: Frame
        switch kind {
        case .event:
            let payload = Array(buffer[body..<body + length])
            let json: JSONValue
            do { json = try JSONValue.parse(payload) } catch { throw .badEvent(offset: base, reason: error.reason) }
            switch Event.from(json: json) {
            case .success(var event):
                event.raw = payload
                frame = .event(event)
            case .failure(let shape):
                throw .badEvent(offset: base, reason: shape.reason)
            }
        case .audio:
            guard length >= AudioChunk.timestampSize else {
                throw .badAudio(offset: base, reason: "payload of \(length) bytes has no room for the 8-byte timestamp")
            }
            var ts: UInt64 = 0
            for i in 0..<8 { ts = ts << 8 | UInt64(buffer[body + i]) }
            guard ts <= UInt64(Int64.max) else {
                throw .badAudio(offset: base, reason: "timestamp \(ts) ns is beyond the largest stream time (2^63 - 1 ns)")
            }
            frame = .audio(AudioChunk(timestamp: ts, pcm: Array(buffer[body + 8..<body + length])))
        }
        lastFrameOffset = base
        consume(Frame.headerSize + length)
        return frame
    }

    /// Longest text line accepted: room for a full audio payload in base64 plus its fields.
    private var maxLine: Int { maxPayload / 3 * 4 + 4096 }

    private mutating func nextText(atEnd: Bool) throws(FrameError) -> Frame? {
        while true {
            guard start < buffer.count else { return nil }
            var newline = max(scanned, start)
            while newline < buffer.count && buffer[newline] != 0x0a { newline += 1 }
            let found = newline < buffer.count
            if !found {
                scanned = newline
                if newline - start > maxLine {
                    throw .badTextLine(line: lineNumber + 1, offset: base, reason: "line is longer than \(maxLine) bytes")
                }
                if !atEnd { return nil }
            }
            lineNumber += 1
            var end = newline
            if end > start && buffer[end - 1] == 0x0d { end -= 1 }
            let line = buffer[start..<end]
            let lineOffset = base
            let number = lineNumber
            consume(found ? newline + 1 - start : newline - start)
            let trimmed = line.drop(while: { $0 == 0x20 || $0 == 0x09 })
            if trimmed.isEmpty || trimmed.first == UInt8(ascii: "#") { continue }
            switch TextForm.frame(fromLine: trimmed) {
            case .success(let frame):
                lastFrameOffset = lineOffset
                return frame
            case .failure(let problem): throw .badTextLine(line: number, offset: lineOffset, reason: problem.reason)
            }
        }
    }
}
