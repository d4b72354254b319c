import CWebRTCVAD

/// WebRTC's voice activity detector (libwebrtc-audio-processing), on 10 ms
/// frames at 16 kHz. Owns the detector instance and frees it on deinit.
///
/// Mode 3 holds up best across clean speech and noise. On its own it still
/// calls loud steady sounds speech, as long as they last (a 50 Hz hum with its
/// harmonics, brown noise, other people talking): vx-vad high-passes what it
/// gives the engine, and the level gate turns frames no louder than the
/// background into `faint`. A fresh instance calls the first 90-180 ms of
/// steady noise speech; `TurnDetector` ignores its first 200 ms, and vx-vad
/// keeps one instance for the whole run.
public final class WebRTCVoiceEngine: VoiceActivityEngine {
    public let name = "webrtc"
    public let aggressiveness: Int
    /// dB above the noise floor a frame must also reach to count as speech; 0 for no gate.
    public let levelGate: Double
    private var noise = NoiseFloor()
    private let handle: OpaquePointer

    /// `levelGate`: WebRTC calls steady sounds with voice-like spectra speech (a
    /// mains hum's harmonics, rumble) and does not care how loud they are against
    /// the background; a frame must also stand `levelGate` dB above the noise floor.
    public init(aggressiveness: Int = 3, levelGate: Double = 0) throws {
        guard (0...3).contains(aggressiveness) else {
            throw EngineError.unavailable(engine: "webrtc", reason: "aggressiveness \(aggressiveness) is not 0, 1, 2 or 3")
        }
        guard let handle = WebRtcVad_Create() else {
            throw EngineError.unavailable(engine: "webrtc", reason: "WebRtcVad_Create returned no instance")
        }
        guard WebRtcVad_Init(handle) == 0 else {
            WebRtcVad_Free(handle)
            throw EngineError.unavailable(engine: "webrtc", reason: "WebRtcVad_Init failed")
        }
        guard WebRtcVad_set_mode(handle, Int32(aggressiveness)) == 0 else {
            WebRtcVad_Free(handle)
            throw EngineError.unavailable(engine: "webrtc", reason: "WebRtcVad_set_mode(\(aggressiveness)) failed")
        }
        self.handle = handle
        self.aggressiveness = aggressiveness
        self.levelGate = levelGate
    }

    deinit { WebRtcVad_Free(handle) }

    /// WebRTC holds its verdict on for a few frames once speech has lasted more
    /// than 60 ms (vad_core.c, kOverHangMax2* for 10 ms frames): 14 frames in
    /// modes 0-1, 9 in modes 2-3. Measured on flite speech in mode 3: voiced
    /// frames run on ~100 ms past the -40 dB end of the speech.
    public var hangover: UInt64 { aggressiveness >= 2 ? 90_000_000 : 140_000_000 }

    public func classify(_ frame: UnsafeBufferPointer<Int16>) throws -> FrameVerdict {
        let result = WebRtcVad_Process(handle, Int32(AnalysisFormat.rate), frame.baseAddress, frame.count)
        var faint = false
        if levelGate > 0 {
            let level = frameLevel(frame)
            faint = level < noise.update(level) + levelGate
        }
        switch result {
        case 1: return faint ? .faint : .speech
        case 0: return .silence
        default:
            throw EngineError.failed(engine: name, reason: "WebRtcVad_Process refused a frame of \(frame.count) samples at \(AnalysisFormat.rate) Hz")
        }
    }
}
