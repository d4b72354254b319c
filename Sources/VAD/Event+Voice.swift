import VXShared

extension Event {
    /// `voice-started`: `timestamp`/`timestamp_ns` the onset, `preroll_ns` where a recogniser should start
    /// taking audio, `decided_ns` the stream time just after the audio that decided it.
    public static func voiceStarted(onset: UInt64, preRoll: UInt64, decided: UInt64) -> Event {
        Event(EventType.voiceStarted, [
            "timestamp": .int(Int64(clamping: onset / 1_000_000)), "timestamp_ns": .int(Int64(clamping: onset)),
            "preroll_ns": .int(Int64(clamping: preRoll)), "decided_ns": .int(Int64(clamping: decided)),
        ])
    }

    /// `voice-stopped`: `timestamp`/`timestamp_ns` the end of the last speech, why the utterance ended,
    /// and `decided_ns`.
    public static func voiceStopped(end: UInt64, reason: StopReason, decided: UInt64) -> Event {
        Event(EventType.voiceStopped, [
            "timestamp": .int(Int64(clamping: end / 1_000_000)), "timestamp_ns": .int(Int64(clamping: end)),
            "reason": .string(reason.rawValue), "decided_ns": .int(Int64(clamping: decided)),
        ])
    }

    /// `interrupt` raised by the user's voice: `timestamp`/`timestamp_ns` the onset of the speech, and `decided_ns`.
    public static func voiceInterrupt(onset: UInt64, decided: UInt64) -> Event {
        Event(EventType.interrupt, [
            "timestamp": .int(Int64(clamping: onset / 1_000_000)), "timestamp_ns": .int(Int64(clamping: onset)),
            "reason": .string("voice"), "decided_ns": .int(Int64(clamping: decided)),
        ])
    }

    init(_ turn: TurnEvent, decided: UInt64) {
        switch turn {
        case .started(let onset, let preRoll): self = .voiceStarted(onset: onset, preRoll: preRoll, decided: decided)
        case .stopped(let end, let reason): self = .voiceStopped(end: end, reason: reason, decided: decided)
        }
    }
}
