/// What the reading side asks of the decoding thread, in stream order.
enum DecodeCommand: Sendable, Equatable {
    /// Begin an utterance.
    case start(Utterance)
    /// More of the utterance: 16 kHz mono samples.
    case feed([Int16])
    /// The utterance is over: transcribe it.
    case finish(UtteranceEnd)
    /// Drop the utterance without a transcript (a stretch that turned out to have a VAD upstream).
    case cancel

    /// Samples this command carries, for bounding the queue.
    var samples: Int {
        if case .feed(let samples) = self { return samples.count }
        return 0
    }
}

/// One utterance as the transcript reports it.
struct Utterance: Sendable, Equatable {
    var id: Int
    /// Stream time of its first sample (pre-roll included).
    var startNs: UInt64
}

struct UtteranceEnd: Sendable, Equatable {
    /// Stream time the speech ended: voice-stopped's timestamp, else the end of the audio taken.
    var endNs: UInt64
    /// voice-stopped's reason, or what else ended it: audio-stop, max-utterance, end-of-input.
    var reason: String
    /// Monotonic time the end was read, for the latency figure.
    var readAt: Duration?
}
