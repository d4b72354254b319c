import VXShared

/// How vx-stt cuts the audio into utterances and reports on them.
public struct STTConfiguration: Sendable, Equatable {
    /// Where utterances begin and end.
    public enum Segmentation: String, Sendable, CaseIterable {
        /// voice-started … voice-stopped once a VAD upstream has been seen; until then each stretch.
        case auto
        /// Only voice-started … voice-stopped; audio outside them is ignored.
        case voice
        /// Each stretch, audio-start … audio-stop; voice events are only forwarded.
        case stretch
    }

    public var segmentation: Segmentation = .auto
    /// A transcript-chunk is considered after every this much audio (stream time); nil: none.
    public var partialInterval: Duration? = .milliseconds(300)
    /// A longer utterance is cut here and transcribed; the audio after it starts a new one.
    public var maxUtterance: Duration = .seconds(30)
    /// Recent audio kept so an utterance can start at voice-started's `preroll_ns`.
    public var prerollBuffer: Duration = .milliseconds(1_500)
    /// Audio the decoder may fall behind the input by before reading waits for it.
    /// Events are still forwarded while the decoder is busy, up to this much audio.
    public var backlog: Duration = .seconds(60)

    public init() {}

    /// Samples at 16 kHz in `duration` (at least one).
    static func samples(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let ns = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
        return max(1, AudioFormat.pipeline.frames(forNanoseconds: ns))
    }
}
