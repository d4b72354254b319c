/// Decides, frame by frame, whether audio holds speech.
///
/// vx-vad feeds an engine 10 ms frames of 16 kHz mono signed 16-bit samples
/// (`AnalysisFormat.frameLength` of them), in stream order, from one thread. Engines keep
/// state across frames (noise estimates), so one engine serves a whole run.
public protocol VoiceActivityEngine: AnyObject {
    /// Name for logs, e.g. "webrtc".
    var name: String { get }
    /// How long the engine goes on calling frames speech after speech ends
    /// (its hangover), in nanoseconds; vx-vad reports ends this much earlier.
    var hangover: UInt64 { get }
    /// What the frame holds.
    func classify(_ frame: UnsafeBufferPointer<Int16>) throws -> FrameVerdict
}

/// An engine's verdict on one analysis frame.
public enum FrameVerdict: Sendable, Equatable {
    case silence
    case speech
    /// Speech by the engine's detector, but too faint against the background
    /// to count on its own (the WebRTC engine's level gate). It starts and holds
    /// no utterance, but an onset reaches back over faint frames just before
    /// it (a soft start of a word in noise), and an end forward over those just
    /// after it (a fading tail), when silence bounds them.
    case faint
}

/// The analysis format every engine is fed.
public enum AnalysisFormat {
    public static let rate = 16_000
    /// Samples in one 10 ms analysis frame.
    public static let frameLength = 160
    public static let frameNanoseconds: UInt64 = 10_000_000
}

/// The engines vx-vad offers, chosen by `--engine`.
public enum EngineChoice: Sendable, Equatable {
    /// WebRTC's GMM detector; `aggressiveness` 0 (least) to 3 (most eager to call noise non-speech).
    case webrtc(aggressiveness: Int, levelGate: Double)
    /// RMS level against an adaptive noise floor.
    case energy(EnergyVoiceEngine.Settings)

    public func makeEngine() throws -> any VoiceActivityEngine {
        switch self {
        case .webrtc(let aggressiveness, let levelGate): try WebRTCVoiceEngine(aggressiveness: aggressiveness, levelGate: levelGate)
        case .energy(let settings): EnergyVoiceEngine(settings: settings)
        }
    }
}

/// Why an engine could not be made or run.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    case unavailable(engine: String, reason: String)
    case failed(engine: String, reason: String)

    public var description: String {
        switch self {
        case .unavailable(let engine, let reason): "the \(engine) voice activity detector is unavailable: \(reason)"
        case .failed(let engine, let reason): "the \(engine) voice activity detector failed: \(reason)"
        }
    }
}
