/// One server-sent event.
public struct SSEEvent: Sendable, Equatable {
    /// The `event:` field, or "message" when the event had none.
    public var type: String
    /// The `data:` lines joined with "\n".
    public var data: String
    /// The last `id:` seen in the stream up to this event ("" for none).
    public var lastEventID: String

    public init(type: String = "message", data: String, lastEventID: String = "") {
        self.type = type
        self.data = data
        self.lastEventID = lastEventID
    }

    /// True for OpenAI's end-of-stream marker, `data: [DONE]`.
    public var isDone: Bool { data == "[DONE]" }
}

/// Why an event stream cannot be parsed.
public enum SSEError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One event (its lines so far) grew past the parser's limit.
    case eventTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .eventTooLarge(let limit): "a server-sent event is over the \(limit)-byte limit"
        }
    }
}

/// Parses a `text/event-stream` body (the WHATWG server-sent events format) from chunks split
/// anywhere, as they arrive from `HTTPClient.stream`.
///
/// Lines end with LF, CRLF or CR. A line starting with `:` is a comment. `field: value` lines
/// set `event`, `data` (several lines join with "\n"), `id` and `retry`; other fields are ignored.
/// A blank line ends the event, which is returned if it had any `data`. A UTF-8 byte order mark
/// at the very start is skipped. An event the stream ends in the middle of is not returned
/// (`hasIncompleteEvent` tells).
///
/// LLM streams use it like this: OpenAI sends `data: {chat.completion.chunk}` events and a
/// final `data: [DONE]` (`SSEEvent.isDone`); Anthropic sends typed events (`message_start`,
/// `content_block_delta`, `message_stop`, ...) with JSON data.
public struct SSEParser: Sendable {
    /// The most bytes one event may take, its lines included.
    public let maxEventBytes: Int
    /// The last `id:` field seen ("" for none).
    public private(set) var lastEventID = ""
    /// The last valid `retry:` field: the reconnection delay the server asks for.
    public private(set) var retry: Duration?

    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var eventType = ""
    /// The previous byte was CR: a LF now completes the same line ending.
    private var afterCR = false
    private var atStreamStart = true

    public init(maxEventBytes: Int = 1 << 20) {
        precondition(maxEventBytes > 0, "maxEventBytes must be positive")
        self.maxEventBytes = maxEventBytes
    }

    /// True when the bytes so far end inside an event (a partial line, or fields with no blank
    /// line after them yet).
    public var hasIncompleteEvent: Bool { !line.isEmpty || hasData || !eventType.isEmpty }

    /// Adds bytes (a chunk from `HTTPClient.stream` as it is) and returns the events they
    /// complete, in order. After an error the parser must not be used again.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(SSEError) -> [SSEEvent] {
        var events: [SSEEvent] = []
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\n"):
                if let event = endLine() { events.append(event) }
            case UInt8(ascii: "\r"):
                afterCR = true
                if let event = endLine() { events.append(event) }
            default:
                line.append(byte)
                if line.count + data.count > maxEventBytes { throw .eventTooLarge(limit: maxEventBytes) }
            }
        }
        return events
    }

    /// Handles the complete line in `line`; returns the event a blank line dispatches.
    private mutating func endLine() -> SSEEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if atStreamStart {
            atStreamStart = false
            if line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
        }
        if line.isEmpty { return dispatch() }
        if line.first == UInt8(ascii: ":") { return nil }  // a comment

        let colon = line.firstIndex(of: UInt8(ascii: ":"))
        let name = String(decoding: line[..<(colon ?? line.endIndex)], as: UTF8.self)
        var value = colon.map { line[($0 + 1)...] } ?? []
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }

        switch name {
        case "event":
            eventType = String(decoding: value, as: UTF8.self)
        case "data":
            data.append(contentsOf: value)
            data.append(UInt8(ascii: "\n"))
            hasData = true
        case "id":
            if !value.contains(0) { lastEventID = String(decoding: value, as: UTF8.self) }
        case "retry":
            if !value.isEmpty, value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
               let ms = Int64(String(decoding: value.prefix(15), as: UTF8.self)) {
                retry = .milliseconds(ms)
            }
        default:
            break
        }
        return nil
    }

    private mutating func dispatch() -> SSEEvent? {
        defer {
            data.removeAll(keepingCapacity: true)
            hasData = false
            eventType = ""
        }
        guard hasData else { return nil }
        data.removeLast()  // the "\n" after the last data line
        return SSEEvent(type: eventType.isEmpty ? "message" : eventType,
                        data: String(decoding: data, as: UTF8.self), lastEventID: lastEventID)
    }
}
