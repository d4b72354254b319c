import VXShared

/// One turn's latency, in milliseconds, measured from the events that reached the supervisor.
/// Times on the wall are monotonic-clock instants; the user's end of speech is placed on that clock
/// from the voice-stopped event (its decision instant less `decided_ns − timestamp_ns`).
public struct TurnRecord: Sendable, Equatable {
    public var index: Int
    public var text: String
    public var reply: String = ""
    /// When the first sample was played, on the monotonic clock.
    public var playedAt: Duration = .zero
    /// File mode: where in the input file the first sample was played (seconds), for lining up an echo.
    public var inputSeconds: Double?
    /// The end-of-turn silence the VAD waited before deciding (ms).
    public var silenceWindow: Double
    /// End of speech → final transcript (the STT's final, plus the hops).
    public var toTranscript: Double
    /// Final transcript → first reply text.
    public var toFirstToken: Double
    /// First reply text → first synthesised audio (waiting for a whole sentence, then synthesis).
    public var toFirstAudio: Double
    /// First synthesised audio → first sample played.
    public var toFirstPlayed: Double
    /// End of speech → first sample played, the silence window taken off: what vx adds to a turn.
    public var voiceToVoice: Double
    /// The same with the silence window: what the user waits.
    public var voiceToVoiceWithSilence: Double
    /// The engines' own times on the critical path: the STT's final, the LLM up to the text that
    /// completed the first sentence, the TTS's synthesis of that sentence; nil when a stage did not report it.
    public var engines: Double?

    /// v2v / engines: what vx's own plumbing costs on top of the engines.
    public var overhead: Double? { engines.map { $0 > 0 ? voiceToVoice / $0 : 0 } }

    /// The turn's figures as log fields.
    public var fields: [(String, String)] {
        var parts = [
            ("turn", "\(index)"), ("v2v_ms", Self.ms(voiceToVoice)), ("v2v_with_silence_ms", Self.ms(voiceToVoiceWithSilence)),
            ("stt_ms", Self.ms(toTranscript)), ("llm_ms", Self.ms(toFirstToken)), ("tts_ms", Self.ms(toFirstAudio)),
            ("play_ms", Self.ms(toFirstPlayed)), ("silence_ms", Self.ms(silenceWindow)),
        ]
        if let engines { parts.append(("engines_ms", Self.ms(engines))) }
        if let overhead { parts.append(("overhead", Self.fixed(overhead, 3))) }
        parts.append(("text", text))
        return parts
    }

    /// The turn as a JSON object (the turns file).
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "turn": .int(Int64(index)), "text": .string(text), "reply": .string(reply),
            "v2v_ms": .double(voiceToVoice), "v2v_with_silence_ms": .double(voiceToVoiceWithSilence),
            "stt_ms": .double(toTranscript), "llm_ms": .double(toFirstToken), "tts_ms": .double(toFirstAudio),
            "play_ms": .double(toFirstPlayed), "silence_ms": .double(silenceWindow),
        ]
        if let engines { object["engines_ms"] = .double(engines) }
        if let inputSeconds { object["played_at_input_s"] = .double(inputSeconds) }
        return .object(object)
    }

    static func ms(_ v: Double) -> String { fixed(v, 1) }

    static func fixed(_ v: Double, _ places: Int) -> String {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let r = (v * scale).rounded() / scale
        var s = "\(r)"
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: dot, to: s.endIndex) - 1
            if decimals < places { s += String(repeating: "0", count: places - decimals) }
        }
        return s
    }
}

/// A barge-in: from the user's speech onset to the assistant's silence.
public struct BargeInRecord: Sendable, Equatable {
    public var onsetToSilence: Double
    public var heard: String
}

/// p50 / p95 of a list of figures.
public struct Percentiles: Sendable {
    public let values: [Double]
    public init(_ values: [Double]) { self.values = values.sorted() }

    /// Nearest-rank percentile; nil for no values.
    public func percentile(_ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(values.count)).rounded(.up))
        return values[min(max(rank, 1), values.count) - 1]
    }
}
