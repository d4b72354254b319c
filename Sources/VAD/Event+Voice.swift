import VXShared

extension Event {
    /// `voice-started`: `timestamp`/`timestamp_ns` the onset, `preroll_ns` where a recogniser should start taking audio.
    public static func voiceStarted(onset: UInt64, preRoll: UInt64) -> Event {
        Event(EventType.voiceStarted, [
            "timestamp": .int(Int64(clamping: onset / 1_000_000)), "timestamp_ns": .int(Int64(clamping: onset)),
            "preroll_ns": .int(Int64(clamping: preRoll)),
        ])
    }

    /// `voice-stopped`: `timestamp`/`timestamp_ns` the end of the last speech, and why the utterance ended.
    public static func voiceStopped(end: UInt64, reason: StopReason) -> Event {
        Event(EventType.voiceStopped, [
            "timestamp": .int(Int64(clamping: end / 1_000_000)), "timestamp_ns": .int(Int64(clamping: end)),
            "reason": .string(reason.rawValue),
        ])
    }

    init(_ turn: TurnEvent) {
        switch turn {
        case .started(let onset, let preRoll): self = .voiceStarted(onset: onset, preRoll: preRoll)
        case .stopped(let end, let reason): self = .voiceStopped(end: end, reason: reason)
        }
    }
}
