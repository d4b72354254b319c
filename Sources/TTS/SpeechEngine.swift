import VXNet

/// A text-to-speech engine: flite, espeak-ng or a remote OpenAI-compatible service.
///
/// `synthesize` blocks its thread and hands audio to `sink` as the engine produces it, 16-bit
/// mono samples at the rate it names. It checks `stop` at least once per engine chunk (flite's
/// streaming callback, espeak-ng's synth callback, each piece of an HTTP body) and, once it is
/// cancelled, stops there and returns `false`. Engines are shared by one process's threads:
/// calls may come from any thread, and an engine serialises them if it must.
public protocol SpeechEngine: AnyObject, Sendable {
    /// The engine's name in `--engine` and in cache keys.
    var name: String { get }
    /// The voice used when none is asked for.
    var defaultVoice: String { get }
    /// Throws `TTSError.unknownVoice` if the engine cannot speak with `voice`.
    func checkVoice(_ voice: String) throws
    /// Speaks `text`; returns true when done, false when `stop` cut it short.
    func synthesize(_ text: String, voice: String, stop: Cancellation, sink: AudioSink) throws -> Bool
}

/// Where an engine delivers audio: samples (16-bit mono) at `rate` Hz, piece by piece.
public typealias AudioSink = (_ samples: UnsafeBufferPointer<Int16>, _ rate: Int) -> Void

/// What goes wrong in vx-tts.
public enum TTSError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownVoice(engine: String, voice: String, known: String)
    case engineUnavailable(engine: String, reason: String)
    case synthesisFailed(engine: String, text: String, reason: String)
    case remote(reason: String)

    public var description: String {
        switch self {
        case let .unknownVoice(engine, voice, known):
            "\(engine) has no voice '\(voice)' (\(known))"
        case let .engineUnavailable(engine, reason):
            "cannot start \(engine): \(reason)"
        case let .synthesisFailed(engine, text, reason):
            "\(engine) could not speak \"\(text.prefix(60))\": \(reason)"
        case let .remote(reason):
            "remote speech failed: \(reason)"
        }
    }

    /// The `code` of the `error` event that reports it.
    public var code: String {
        switch self {
        case .unknownVoice: "tts-unknown-voice"
        case .engineUnavailable: "tts-unavailable"
        case .synthesisFailed: "tts-failed"
        case .remote: "tts-remote-failed"
        }
    }
}
