/// A JSON event: `{"type": "...", "data": {...}}`.
///
/// Names and fields follow the Wyoming protocol where Wyoming has the event;
/// docs/PROTOCOL.md lists them. An event read off the wire keeps its original
/// bytes so a stage that does not consume it forwards it unchanged.
public struct Event: Sendable {
    /// Changing `type` or `data` drops the received bytes, so the edit is what gets sent.
    public var type: String { didSet { raw = nil } }
    public var data: [String: JSONValue] { didSet { raw = nil } }
    /// The payload exactly as received, if this event was decoded from a stream.
    public internal(set) var raw: [UInt8]?

    public init(_ type: String, _ data: [String: JSONValue] = [:]) {
        self.type = type
        self.data = data
        self.raw = nil
    }

    public subscript(key: String) -> JSONValue? { data[key] }

    /// The JSON text of the event, `type` first.
    public var jsonText: String {
        var out = "{\"type\":"
        JSONValue.writeString(type, to: &out)
        out += ",\"data\":"
        JSONValue.object(data).write(to: &out)
        out += "}"
        return out
    }

    /// The bytes of an event frame's payload: the original bytes when unchanged.
    public var payload: [UInt8] { raw ?? Array(jsonText.utf8) }

    /// Builds an event from a parsed JSON object, or says why it is not one.
    public static func from(json: JSONValue) -> Result<Event, EventShapeError> {
        guard case .object(let object) = json else { return .failure(.init(reason: "not a JSON object")) }
        guard let type = object["type"]?.string, !type.isEmpty else {
            return .failure(.init(reason: "no \"type\" string"))
        }
        switch object["data"] {
        case nil, .null?: return .success(Event(type))
        case .object(let data)?: return .success(Event(type, data))
        default: return .failure(.init(reason: "\"data\" of \(type) is not an object"))
        }
    }

    public struct EventShapeError: Error, Sendable {
        public var reason: String
    }
}

extension Event: Equatable {
    public static func == (a: Event, b: Event) -> Bool { a.type == b.type && a.data == b.data }
}

/// The version of the vx tools and protocol implementation.
public let vxVersion = "0.1.0"

/// Event types used by vx. Wyoming's names where Wyoming has the event.
public enum EventType {
    // Wyoming: audio
    public static let audioStart = "audio-start"
    public static let audioChunk = "audio-chunk"  // text form of an audio frame
    public static let audioStop = "audio-stop"
    // Wyoming: voice activity
    public static let voiceStarted = "voice-started"
    public static let voiceStopped = "voice-stopped"
    // Wyoming: speech to text
    public static let transcript = "transcript"
    public static let transcriptChunk = "transcript-chunk"
    // Wyoming: text to speech
    public static let synthesize = "synthesize"
    // Wyoming: playback
    public static let played = "played"
    // Wyoming: general
    public static let error = "error"
    public static let ping = "ping"
    public static let pong = "pong"
    public static let describe = "describe"
    public static let info = "info"
    // vx additions (Wyoming has no such event)
    public static let interrupt = "interrupt"
    public static let replyChunk = "reply-chunk"
    public static let reply = "reply"
}

extension Event {
    /// `audio-start`: the format of the audio frames that follow. `timestamp`
    /// is stream time in milliseconds (Wyoming); `timestamp_ns` the same in nanoseconds.
    public static func audioStart(_ format: AudioFormat, timestamp ns: UInt64) -> Event {
        Event(EventType.audioStart, [
            "rate": .int(Int64(format.rate)), "width": .int(Int64(format.width)),
            "channels": .int(Int64(format.channels)),
            "timestamp": .int(Int64(ns / 1_000_000)), "timestamp_ns": .int(Int64(ns)),
        ])
    }

    public static func audioStop(timestamp ns: UInt64) -> Event {
        Event(EventType.audioStop, ["timestamp": .int(Int64(ns / 1_000_000)), "timestamp_ns": .int(Int64(ns))])
    }

    /// Wyoming's `info` answer to `describe`, reduced to what a vx stage is.
    public static func info(name: String, description: String) -> Event {
        Event(EventType.info, ["name": .string(name), "description": .string(description), "version": .string(vxVersion)])
    }

    public static func error(_ text: String, code: String) -> Event {
        Event(EventType.error, ["text": .string(text), "code": .string(code)])
    }

    /// The audio format an `audio-start` declares, or why it declares none.
    public func audioFormat() -> Result<AudioFormat, EventShapeError> {
        guard let rate = data["rate"]?.int, let width = data["width"]?.int, let channels = data["channels"]?.int else {
            return .failure(.init(reason: "audio-start needs integer rate, width and channels"))
        }
        let format = AudioFormat(rate: rate, width: width, channels: channels)
        if let problem = format.problem { return .failure(.init(reason: "audio-start: \(problem)")) }
        return .success(format)
    }

    /// Stream time in nanoseconds: `timestamp_ns` if present, else Wyoming's millisecond `timestamp`.
    public var timestampNanoseconds: UInt64? {
        if let ns = data["timestamp_ns"]?.int, ns >= 0 { return UInt64(ns) }
        if let ms = data["timestamp"]?.double, ms >= 0, let ns = UInt64(exactly: (ms * 1_000_000).rounded()),
           ns <= UInt64(Int64.max) {
            return ns
        }
        return nil
    }
}
